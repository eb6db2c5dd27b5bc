"""Record filters: each rejects records that would train badly and says which turn and why.

One module per op, found by the op registry: ``filter.length``, ``filter.empty_turns``,
``filter.role_order``, ``filter.repetition``, ``filter.language``, ``filter.placeholders``.

Every rejection carries a stable reason code, the offending field when there is one
(``messages[2].content``, 0-based like the readers' field paths) and a detail with the
measured value, naming turns 1-based as people count them ("assistant turn 3 has 5120
tokens > 4096"). A record failing several checks of one filter is rejected for the
first failing turn. Turns of ``chosen``/``rejected`` are named with their list
("chosen assistant turn 1"). Checks run on all turns of a shard at once: messages are
exploded into one flat frame (``_common.explode_turns``) and measured column-wise.
"""
