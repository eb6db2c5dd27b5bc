"""Format adapters: one module per external layout, each a :class:`~dataforge.formats.base.Format`
registered with ``@register_format``. ``FORMATS`` imports every module here on first lookup,
so a new format is one file in this folder."""
