"""Write the sample data of the five task recipes from the hand-written tables below.

    python recipes/data/make_samples.py           # (re)write every file listed in FILES
    python recipes/data/make_samples.py --check   # exit 1 when a file differs from the tables

Why a generator: the sample sets are small but full of planted problems (a truncated line,
duplicates, PII, wrong role order, leftover placeholders, broken tool calls), and the
tests and README refer to them by record id. Keeping the content here and the files as
its output means the data, the expectations in ``PLANTED`` and the test cannot drift
apart unnoticed (``tests/recipes/test_sample_data.py`` regenerates and compares).

Output is deterministic: no randomness, no timestamps, fixed key order, UTF-8 with real
Chinese characters (``ensure_ascii=False``), one record per line for JSON Lines.
Only the files named in FILES are written; the older hand-made samples in this folder
(medical_qa.jsonl, messy.jsonl, ...) are not touched.

Identity slots: the identity recipe's answers hold ``[[NAME]]`` and ``[[AUTHOR]]``, which
the recipe fills from ``${VAR}``s. Double square brackets were chosen because none of
``filter.placeholders``' default patterns match them (``{{name}}`` is ``mustache``,
``<<NAME>>`` contains ``<NAME>``, an ``angle_caps`` hit), while ``{{name}}`` /
``{{author}}`` (LLaMA-Factory's identity.json spelling) is planted as the *leftover*
placeholder the filter must catch. See README.md, "Template slots".
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------
# Content tables. A conversation is a list of turns: ("u", text), ("a", text),
# ("call", [(tool name, arguments dict, or raw text for a broken call), ...]),
# ("tool", result dict).
# --------------------------------------------------------------------------------------

CS_SYSTEM = {
    "en": "You are the customer service assistant of ShopEase, an online store. Answer briefly and politely.",
    "zh": "你是「优购商城」的在线客服，回答要简洁、礼貌。",
}

CS_TRAIN_EN = {
    "cs-en-order-status": [
        ("u", "Hi, where is my order SE-20418? I ordered it five days ago."),
        ("a", "Let me check. Order SE-20418 left our warehouse yesterday and should arrive within 2-3 business days."),
        ("u", "Can I get the tracking link?"),
        ("a", "Of course. The tracking link has been sent to the email on your account; it updates a few hours after each scan."),
    ],
    "cs-en-return-window": [
        ("u", "How long do I have to return a jacket I bought?"),
        ("a", "You can return unworn items within 30 days of delivery for a full refund."),
        ("u", "Do I have to pay for return shipping?"),
        ("a", "Returns are free if you use the prepaid label from your order page; otherwise shipping is at your cost."),
    ],
    "cs-en-refund-timing": [
        ("u", "I returned my shoes last week. When will I get my refund?"),
        ("a", "Refunds are issued within 3 business days after the warehouse receives the return. Your bank may take another 5-7 days to show it."),
    ],
    "cs-en-shipping-delay": [
        ("u", "My package was supposed to arrive Monday and it's now Thursday."),
        ("a", "I'm sorry for the delay. The carrier reports a backlog in your area, and your parcel is now expected by Saturday."),
        ("u", "What if it doesn't come by then?"),
        ("a", "If it hasn't arrived by Saturday evening, reply here and we will send a replacement or refund you, whichever you prefer."),
    ],
    "cs-en-wrong-item": [
        ("u", "I ordered a blue mug but received a red one."),
        ("a", "Sorry about that mix-up. I've arranged a free exchange: the blue mug ships today, and you can keep or donate the red one."),
    ],
    "cs-en-damaged": [
        ("u", "The lamp I received has a cracked base."),
        ("a", "I'm sorry it arrived damaged. Could you send a photo of the crack and the box?"),
        ("u", "Just uploaded two photos."),
        ("a", "Thank you, I can see the damage. A replacement lamp will ship within 24 hours at no cost."),
    ],
    "cs-en-change-address": [
        ("u", "Can I change the delivery address on order SE-31877?"),
        ("a", "Yes, as long as it hasn't shipped. Order SE-31877 is still being packed, so I can update it now."),
        ("u", "Please send it to my office address instead, it's saved in my profile."),
        ("a", "Done. The order will now ship to the office address saved in your profile."),
    ],
    "cs-en-cancel": [
        ("u", "I want to cancel my order, I bought the wrong size."),
        ("a", "No problem. Your order hasn't shipped yet, so I've cancelled it and the refund will go back to your card within 3-5 business days."),
    ],
    "cs-en-coupon": [
        ("u", "My coupon code SAVE10 didn't apply at checkout."),
        ("a", "SAVE10 is valid only on orders over $50, and your cart was $42. Add one more item and it will apply automatically."),
    ],
    "cs-en-size-exchange": [
        ("u", "The sneakers are too small. Can I swap them for a size 10?"),
        ("a", "Yes. Start an exchange from your order page and choose size 10; we'll ship it as soon as the carrier scans your return."),
        ("u", "Is size 10 in stock?"),
        ("a", "Yes, we have size 10 in stock in the same color."),
    ],
    "cs-en-double-charge": [
        ("u", "I was charged twice for the same order."),
        ("a", "I'm sorry about that. The second charge is a temporary authorization and should disappear within 3 business days."),
        ("u", "And if it doesn't?"),
        ("a", "Then contact us again with a screenshot of your statement and we'll refund it directly."),
    ],
    "cs-en-tracking-stuck": [
        ("u", "My tracking hasn't updated in four days."),
        ("a", "Tracking sometimes pauses while a parcel moves between hubs. I've opened a trace with the carrier and will update you within 48 hours."),
    ],
    "cs-en-international": [
        ("u", "Do you ship to Canada?"),
        ("a", "Yes, we ship to Canada. Delivery takes 7-12 business days and import duties are paid at delivery."),
    ],
    "cs-en-gift-wrap": [
        ("u", "Can I add gift wrapping to an order I already placed?"),
        ("a", "Gift wrapping can only be added before an order is packed. Yours is already packed, so we can include a free gift message card instead."),
    ],
    "cs-en-restock": [
        ("u", "When will the grey hoodie in size M be back in stock?"),
        ("a", "We expect a restock in about two weeks. Click \"Notify me\" on the product page and you'll get an email when it's available."),
    ],
    "cs-en-warranty": [
        ("u", "My headphones stopped charging after four months."),
        ("a", "They are covered by our 12-month warranty. Please start a warranty claim from your order page and we'll send a prepaid label."),
        ("u", "Will I get new ones or a repair?"),
        ("a", "You'll receive a new pair once we've received the faulty ones."),
    ],
    "cs-en-invoice": [
        ("u", "I need an invoice with my company name for order SE-45210."),
        ("a", "You can download the invoice from the order page and add your company name before generating the PDF."),
    ],
    "cs-en-missed-delivery": [
        ("u", "The courier came while I was out. What now?"),
        ("a", "The courier will try again tomorrow. You can also pick the parcel up at the nearby collection point after 5 pm today."),
    ],
    "cs-en-price-drop": [
        ("u", "The blender I bought last week is now $20 cheaper."),
        ("a", "We offer a price adjustment within 14 days of purchase. I've refunded the $20 difference to your original payment method."),
    ],
    "cs-en-partial-delivery": [
        ("u", "I only received two of the three items I ordered."),
        ("a", "Your order was shipped in two parcels. The third item is in a separate package arriving tomorrow."),
        ("u", "Oh, good. Thanks!"),
        ("a", "You're welcome! Let me know if anything else comes up."),
    ],
    "cs-en-store-credit": [
        ("u", "Can I get my refund as store credit instead?"),
        ("a", "Yes. Store credit is issued instantly and includes a 5% bonus, while a card refund takes 3-5 business days."),
    ],
    "cs-en-late-return": [
        ("u", "Can I still return a dress I bought 40 days ago?"),
        ("a", "Our return window is 30 days, so a refund isn't possible. Since it's unworn, we can offer store credit as a one-time exception."),
    ],
}

CS_TRAIN_ZH = {
    "cs-zh-order-status": [
        ("u", "你好，我的订单YG0518-073到哪了？"),
        ("a", "您好，订单YG0518-073已于昨天从仓库发出，预计2到3天送达。"),
        ("u", "能告诉我快递单号吗？"),
        ("a", "快递单号已发送到您的短信和订单详情页，您可以随时查看物流进度。"),
    ],
    "cs-zh-return-policy": [
        ("u", "买的衣服不合适，可以退货吗？"),
        ("a", "可以的，商品签收后7天内、未穿着且吊牌完好即可申请无理由退货。"),
        ("u", "退货运费谁出？"),
        ("a", "如果您购买了运费险，退货运费由保险承担；否则需要您自行支付。"),
    ],
    "cs-zh-refund-time": [
        ("u", "我退货的快递已经签收了，钱什么时候退？"),
        ("a", "仓库确认收货后1到2个工作日内会原路退款，到账时间以银行为准，一般3到5天。"),
    ],
    "cs-zh-delay": [
        ("u", "说好前天到的快递，到现在还没到。"),
        ("a", "非常抱歉让您久等了。受天气影响，您所在地区的快递有延误，预计明天可以送达。"),
        ("u", "如果明天还不到呢？"),
        ("a", "如果明天仍未送达，请再联系我们，我们会为您补发或者全额退款。"),
    ],
    "cs-zh-wrong-item": [
        ("u", "我买的是黑色的保温杯，收到的是白色的。"),
        ("a", "非常抱歉发错了颜色。黑色保温杯今天为您补发，白色的请用我们提供的免费退货单寄回。"),
    ],
    "cs-zh-damaged": [
        ("u", "收到的盘子碎了两个。"),
        ("a", "很抱歉给您带来不便。麻烦您拍一下破损商品和外包装的照片发给我。"),
        ("u", "照片已经上传了。"),
        ("a", "收到，已经为您登记破损补发，两个新盘子会在24小时内发出。"),
    ],
    "cs-zh-change-address": [
        ("u", "订单还没发货，能改一下收货地址吗？"),
        ("a", "可以的。订单尚未发货，您在订单详情页点击“修改地址”即可，或者把新地址发给我帮您修改。"),
    ],
    "cs-zh-cancel": [
        ("u", "我想取消刚下的订单。"),
        ("a", "好的，订单还没有发货，已经为您取消，款项会在1到3个工作日内原路退回。"),
    ],
    "cs-zh-coupon": [
        ("u", "为什么我的满减券用不了？"),
        ("a", "这张券需要订单满199元才能使用，您当前订单是168元，再凑31元就可以使用了。"),
    ],
    "cs-zh-size-exchange": [
        ("u", "鞋子小了一码，可以换大一码吗？"),
        ("a", "可以的，请在订单页申请换货并选择新尺码，我们收到退回的鞋子后马上发出新的。"),
        ("u", "换货需要多久？"),
        ("a", "一般从您寄出到收到新鞋大约5到7天。"),
    ],
    "cs-zh-double-charge": [
        ("u", "我付款的时候被扣了两次钱。"),
        ("a", "非常抱歉。重复扣款通常是银行的预授权，会在3个工作日内自动退回。"),
        ("u", "要是没退回呢？"),
        ("a", "请您提供银行扣款记录截图，我们核实后会直接为您退款。"),
    ],
    "cs-zh-logistics-stuck": [
        ("u", "物流信息四天没更新了，是不是丢件了？"),
        ("a", "中转途中物流信息偶尔会暂停更新。我已经向快递公司发起查件，48小时内给您回复。"),
    ],
    "cs-zh-invoice": [
        ("u", "可以开增值税专用发票吗？"),
        ("a", "可以的，请在订单详情页填写公司名称、税号等开票信息，发票会在3个工作日内发到您的邮箱。"),
    ],
    "cs-zh-missed-delivery": [
        ("u", "快递员打电话时我不在家，包裹怎么办？"),
        ("a", "包裹已经放到您小区的快递柜，取件码会通过短信发给您，请在48小时内取件。"),
    ],
    "cs-zh-price-protect": [
        ("u", "我上周买的空气炸锅今天降价了50元。"),
        ("a", "我们支持7天价格保护，您的订单在保价期内，差价50元已经退回到您的原支付账户。"),
    ],
    "cs-zh-restock": [
        ("u", "这款卫衣的L码什么时候补货？"),
        ("a", "预计10天左右补货，您可以点击“到货提醒”，补货后会第一时间通知您。"),
    ],
    "cs-zh-warranty": [
        ("u", "买的电动牙刷用了三个月就充不进电了。"),
        ("a", "该商品享受一年质保。请在订单页申请售后，我们审核后会为您免费更换新机。"),
    ],
    "cs-zh-partial-delivery": [
        ("u", "我买了三件东西，只收到了两件。"),
        ("a", "您的订单是分两个包裹发出的，剩下的一件预计明天送达。"),
        ("u", "好的，谢谢。"),
        ("a", "不客气，有任何问题随时联系我们。"),
    ],
    "cs-zh-refund-to-balance": [
        ("u", "退款可以退到账户余额吗？"),
        ("a", "可以的，退到余额是即时到账的；退回银行卡则需要3到5个工作日。"),
    ],
    "cs-zh-late-return": [
        ("u", "买了二十天的裤子还能退吗？"),
        ("a", "无理由退货期限是签收后7天，已经超过了。如果商品有质量问题，可以在一年内申请售后维修或换货。"),
    ],
    "cs-zh-presale": [
        ("u", "预售的商品什么时候发货？"),
        ("a", "预售商品一般在付尾款后15天内发货，具体以商品页标注的日期为准，发货后会短信通知您。"),
    ],
    "cs-zh-cash-on-delivery": [
        ("u", "支持货到付款吗？"),
        ("a", "目前部分地区支持货到付款，下单时如果支付方式里有这个选项，就说明您的地址可以使用。"),
    ],
}

#: planted rows of ecommerce_cs/train.jsonl: (id, language, turns)
CS_TRAIN_PLANTED = {
    "cs-en-pii-contact": ("en", [
        ("u", "Hi, I never got my order. My email is maria.lopez@example.com and my phone is (415) 555-0142."),
        ("a", "Thanks for the details. I found your order: it was delivered to the front desk of your building on Tuesday."),
    ]),
    "cs-zh-pii-id": ("zh", [
        ("u", "我的手机号是13912345678，身份证号440305199003071236，帮我查一下海淘订单为什么被拦截了。"),
        ("a", "为了保护您的隐私，请不要在对话中发送身份证号。您的订单因实名信息不一致被海关拦截，请在订单页重新上传证件。"),
    ]),
    "cs-en-dup-exact": ("en", CS_TRAIN_EN["cs-en-order-status"]),
    "cs-zh-dup-spaces": ("zh", [
        ("u", "  我想取消刚下的订单。 "),
        ("a", "好的，订单还没有发货，  已经为您取消，款项会在1到3个工作日内原路退回。  "),
    ]),
    "cs-en-dup-near": ("en", [
        ("u", "My package was supposed to arrive Monday and it is now Thursday."),
        *CS_TRAIN_EN["cs-en-shipping-delay"][1:],
    ]),
    "cs-zh-dup-near": ("zh", [
        *CS_TRAIN_ZH["cs-zh-delay"][:3],
        ("a", "如果明天仍未送达，请再联系我们，我们会为您补发或全额退款。"),
    ]),
    "cs-en-agent-first": ("en", [
        ("a", "Hi, thanks for contacting ShopEase! How can I help you today?"),
        ("u", "I'd like to know if you price match other stores."),
        ("a", "We don't price match other retailers, but we do refund price drops on our own site within 14 days."),
    ]),
    "cs-zh-two-user-turns": ("zh", [
        ("u", "在吗？"),
        ("u", "我的快递显示签收了但我没收到。"),
        ("a", "您好，很抱歉。我已联系快递员核实签收地点，24小时内给您答复。"),
    ]),
    "cs-en-macro-placeholder": ("en", [
        ("u", "Has my refund been processed?"),
        ("a", "Hi {{customer_name}}, your refund of {{refund_amount}} was issued today and should reach your card in 3-5 business days."),
    ]),
    "cs-zh-macro-placeholder": ("zh", [
        ("u", "我的订单发货了吗？"),
        ("a", "您好，您的订单【填写订单号】已经发货，请注意查收短信通知。"),
    ]),
}

CS_EVAL = {
    "cs-eval-en-ship-status": ("en", [
        ("u", "Hello, has my order SE-50233 shipped yet?"),
        ("a", "Not yet. Order SE-50233 is being packed and will ship today; you'll get the tracking link by email."),
    ]),
    "cs-eval-en-hole": ("en", [
        ("u", "I received a sweater with a hole in it."),
        ("a", "I'm sorry about that. Please upload a photo on the order page and we'll send a replacement for free."),
    ]),
    "cs-eval-en-sale-return": ("en", [
        ("u", "Can I return sale items?"),
        ("a", "Yes, sale items can be returned within 30 days like any other item."),
        ("u", "Will I get the full price back?"),
        ("a", "You'll get back the price you paid, including the sale discount."),
    ]),
    "cs-eval-en-refund-missing": ("en", [
        ("u", "My refund hasn't arrived after two weeks."),
        ("a", "Sorry for the wait. Your refund was issued 10 days ago; please check with your bank, or send us a statement screenshot and we'll trace it."),
    ]),
    "cs-eval-en-late-fee": ("en", [
        ("u", "The delivery is late. Can I get my shipping fee back?"),
        ("a", "Yes. Since the parcel missed its delivery date, I've refunded the shipping fee to your card."),
    ]),
    "cs-eval-en-cancel-shipped": ("en", [
        ("u", "I want to cancel order SE-60112."),
        ("a", "I'm sorry, order SE-60112 has already shipped, so it can't be cancelled."),
        ("u", "Then what can I do?"),
        ("a", "You can refuse the delivery or return it for free within 30 days, and we'll refund you once it's back."),
    ]),
    "cs-eval-zh-not-shipped": ("zh", [
        ("u", "我的订单怎么还没发货？"),
        ("a", "您好，您的订单正在备货中，预计明天发出，发货后会短信通知您。"),
    ]),
    "cs-eval-zh-earphones": ("zh", [
        ("u", "收到的耳机左边没有声音。"),
        ("a", "非常抱歉，请在订单页申请售后并上传视频，我们核实后为您免费换新。"),
    ]),
    "cs-eval-zh-how-return": ("zh", [
        ("u", "我想退货，怎么操作？"),
        ("a", "请在订单详情页点击“申请退货”，选择退货原因后提交即可。"),
        ("u", "需要多久能退款？"),
        ("a", "仓库收到退货后1到2个工作日内原路退款。"),
    ]),
    "cs-eval-zh-signed-missing": ("zh", [
        ("u", "快递显示已签收，但我没收到。"),
        ("a", "很抱歉，我已联系快递员核实签收情况，24小时内给您答复，如确认丢件会为您补发。"),
    ]),
    "cs-eval-zh-expired-coupon": ("zh", [
        ("u", "优惠券过期了还能用吗？"),
        ("a", "抱歉，优惠券过期后无法使用，您可以关注店铺领取新的优惠券。"),
    ]),
    "cs-eval-zh-courier-switch": ("zh", [
        ("u", "能帮我换成顺丰快递吗？"),
        ("a", "可以的，改为顺丰需要补5元运费差价。"),
        ("u", "好的，我补。"),
        ("a", "已为您更换为顺丰，补差价的链接已发送到订单页。"),
    ]),
}

#: prompts for best-of-K + judge (DPO pairs); they end with the customer's turn
CS_BOK_PROMPTS = {
    "cs-bok-en-empty-box": ("en", [("u", "My order arrived but the box was empty.")]),
    "cs-bok-en-change-color": ("en", [("u", "Can I change the color of an item after ordering?")]),
    "cs-bok-en-refund-wait": ("en", [
        ("u", "I returned a coat two weeks ago."),
        ("a", "Thanks, I can see the return was received on Monday."),
        ("u", "So why haven't I got my money back yet?"),
    ]),
    "cs-bok-en-shipping-cost": ("en", [("u", "Why is shipping so expensive to my area?")]),
    "cs-bok-en-invalid-code": ("en", [("u", "The discount code from your email says it's invalid.")]),
    "cs-bok-en-sunday": ("en", [("u", "Can you deliver on Sunday?")]),
    "cs-bok-zh-not-as-pictured": ("zh", [("u", "我收到的商品和图片不一样。")]),
    "cs-bok-zh-ship-time": ("zh", [("u", "下单后多久能发货？")]),
    "cs-bok-zh-refund-review": ("zh", [
        ("u", "我昨天申请了退款。"),
        ("a", "您好，已经看到您的退款申请，正在审核中。"),
        ("u", "审核要多久啊？我急着用钱。"),
    ]),
    "cs-bok-zh-hurry": ("zh", [("u", "快递太慢了，能催一下吗？")]),
    "cs-bok-zh-invoice-title": ("zh", [("u", "发票抬头写错了，能重新开吗？")]),
    "cs-bok-zh-member-shipping": ("zh", [("u", "我是会员，为什么没有包邮？")]),
}

#: thumbs-up / thumbs-down on single agent replies (TRL KTO, conversational)
CS_FEEDBACK = [
    ("cs-kto-en-parcel-good", "Where is my parcel?",
     "Your parcel is out for delivery and should arrive today before 6 pm.", True),
    ("cs-kto-en-parcel-bad", "Where is my parcel?", "I don't know, ask the courier.", False),
    ("cs-kto-en-refund-good", "How long do refunds take?",
     "Refunds reach your card within 3-5 business days after we receive the return.", True),
    ("cs-kto-en-refund-bad", "How long do refunds take?", "Refunds take as long as they take.", False),
    ("cs-kto-en-broken-good", "My kettle stopped working after a week.",
     "I'm sorry to hear that. It's under warranty, so I've arranged a free replacement.", True),
    ("cs-kto-en-broken-bad", "My kettle stopped working after a week.",
     "You probably used it wrong. We can't help with that.", False),
    ("cs-kto-zh-invoice-good", "怎么开发票？", "您可以在订单详情页点击“申请发票”，填写抬头后提交即可。", True),
    ("cs-kto-zh-invoice-bad", "怎么开发票？", "不知道，自己找。", False),
    ("cs-kto-zh-late-good", "快递怎么还没到？", "非常抱歉，您的包裹因天气原因延误，预计明天送达。", True),
    ("cs-kto-zh-late-bad", "快递怎么还没到？", "快递慢不关我们的事。", False),
    ("cs-kto-zh-size-good", "衣服尺码偏大还是偏小？", "这款衣服尺码偏小，建议您选大一码。", True),
    ("cs-kto-zh-size-bad", "衣服尺码偏大还是偏小？", "随便买，不合适就退。", False),
]

# -- math -------------------------------------------------------------------------------

#: (id, question, solution, answer). Numbers stay small so a 135M model gets a few right.
#: English solutions end GSM8K-style with "#### N", Chinese ones with \boxed{N}; a few
#: rows swap the style so both parsers are exercised in both languages.
MATH_TRAIN = [
    ("math-en-apples", "Tom has 3 apples and buys 4 more. How many apples does he have now?",
     "Tom has 3 + 4 = 7 apples.\n#### 7", 7),
    ("math-en-eggs", "A box holds 6 eggs. How many eggs are in 2 boxes?", "2 boxes hold 2 × 6 = 12 eggs.\n#### 12", 12),
    ("math-en-stickers", "Sara had 15 stickers and gave 6 to her friend. How many stickers does she have left?",
     "She has 15 - 6 = 9 stickers left.\n#### 9", 9),
    ("math-en-pencils", "A pencil costs 2 dollars. How much do 5 pencils cost?", "5 × 2 = 10 dollars.\n#### 10", 10),
    ("math-en-groups", "There are 20 students and they sit in groups of 4. How many groups are there?",
     "20 ÷ 4 = 5 groups.\n#### 5", 5),
    ("math-en-pages", "Mia reads 8 pages a day. How many pages does she read in 3 days?",
     "She reads 8 × 3 = 24 pages.\n#### 24", 24),
    ("math-en-cows", "A farmer has 12 cows and sells 5. Then he buys 3 more. How many cows does he have?",
     "After selling he has 12 - 5 = 7 cows, then 7 + 3 = 10 cows.\n#### 10", 10),
    ("math-en-marbles", "Ben has 4 bags with 5 marbles in each bag. How many marbles does he have?",
     "4 × 5 = 20 marbles.\n#### 20", 20),
    ("math-en-shirt-hat", "A shirt costs 18 dollars and a hat costs 7 dollars. How much do they cost together?",
     "18 + 7 = 25 dollars.\n#### 25", 25),
    ("math-en-candies", "Lily has 30 candies and shares them equally among 5 friends. How many candies does each friend get?",
     "Each friend gets 30 ÷ 5 = 6 candies.\n#### 6", 6),
    ("math-en-seats", "A train has 9 cars and each car has 10 seats. How many seats are there?",
     "9 × 10 = 90 seats.\n#### 90", 90),
    ("math-en-running", "Jack ran 3 km on Monday and 5 km on Tuesday. How many km did he run in total?",
     "3 + 5 = 8 km.\n#### 8", 8),
    ("math-en-birds", "There are 14 birds on a tree. 6 fly away. How many birds are left?",
     "14 - 6 = 8 birds are left.\n#### 8", 8),
    ("math-en-pizza", "A pizza is cut into 8 slices. Anna eats 3 slices. How many slices are left?",
     "8 - 3 = 5 slices.\n#### 5", 5),
    ("math-en-tickets", "Each ticket costs 4 dollars. How much do 6 tickets cost?", "6 × 4 = 24 dollars.\n#### 24", 24),
    ("math-en-balloons", "Emma has 7 red balloons and 8 blue balloons. How many balloons does she have?",
     "7 + 8 = 15 balloons.\n#### 15", 15),
    ("math-en-book", "A book has 50 pages. Leo has read 20 pages. How many pages are left?",
     "50 - 20 = 30 pages are left.\n#### 30", 30),
    ("math-en-chairs", "There are 3 rows of chairs with 7 chairs in each row. How many chairs are there?",
     "3 × 7 = 21 chairs.\n#### 21", 21),
    ("math-en-savings", "Nora saved 5 dollars each week for 4 weeks. How much did she save?",
     "5 × 4 = 20 dollars.\n#### 20", 20),
    ("math-en-cookies", "A baker made 24 cookies and put them in bags of 6. How many bags did he fill?",
     "24 ÷ 6 = 4 bags.\n#### 4", 4),
    ("math-en-toy-cars", "Sam has 11 toy cars and gets 9 more for his birthday. How many toy cars does he have?",
     "11 + 9 = 20, so Sam has $\\boxed{20}$ toy cars.", 20),
    ("math-en-tomatoes", "A garden has 5 rows of 4 tomato plants. How many tomato plants are there?",
     "5 × 4 = 20 plants. The answer is \\boxed{20}.", 20),
    ("math-en-lunch", "Kim had 40 dollars and spent 15 dollars on lunch. How much money does she have left?",
     "40 - 15 = 25, so Kim has \\boxed{25} dollars left.", 25),
    ("math-en-spiders", "A spider has 8 legs. How many legs do 3 spiders have?",
     "3 × 8 = 24, so the answer is \\boxed{24}.", 24),
    ("math-zh-apples", "小明有5个苹果，妈妈又给了他3个。小明现在有几个苹果？", "5 + 3 = 8，所以小明有 \\boxed{8} 个苹果。", 8),
    ("math-zh-pencils", "一支铅笔2元，买6支铅笔要多少元？", "6 × 2 = 12，需要 \\boxed{12} 元。", 12),
    ("math-zh-books", "书架上有20本书，借走了7本，还剩几本？", "20 - 7 = 13，还剩 \\boxed{13} 本。", 13),
    ("math-zh-class", "一个班有4个小组，每组6人，这个班一共有多少人？", "4 × 6 = 24，一共 \\boxed{24} 人。", 24),
    ("math-zh-eggs", "妈妈买了18个鸡蛋，平均装在3个盒子里，每个盒子装几个？", "18 ÷ 3 = 6，每盒装 \\boxed{6} 个。", 6),
    ("math-zh-crayons", "小红有12支彩笔，送给同学4支，又买了5支，现在有几支？",
     "12 - 4 = 8，8 + 5 = 13，现在有 \\boxed{13} 支。", 13),
    ("math-zh-bus", "一辆公交车上有15人，到站下车6人，上车4人，车上现在有多少人？",
     "15 - 6 + 4 = 13，车上有 \\boxed{13} 人。", 13),
    ("math-zh-milk", "每盒牛奶3元，买7盒要多少元？", "7 × 3 = 21，要 \\boxed{21} 元。", 21),
    ("math-zh-orchard", "果园里有桃树9棵，梨树比桃树多5棵，梨树有多少棵？", "9 + 5 = 14，梨树有 \\boxed{14} 棵。", 14),
    ("math-zh-jump-rope", "小刚每天跳绳50下，3天一共跳多少下？", "50 × 3 = 150，一共跳 \\boxed{150} 下。", 150),
    ("math-zh-rope", "一根绳子长30米，剪去12米，还剩多少米？", "30 - 12 = 18，还剩 \\boxed{18} 米。", 18),
    ("math-zh-desks", "教室里有5排桌子，每排8张，一共有多少张桌子？", "5 × 8 = 40，一共 \\boxed{40} 张。", 40),
    ("math-zh-share-apples", "32个苹果平均分给8个小朋友，每人分几个？", "32 ÷ 8 = 4，每人分 \\boxed{4} 个。", 4),
    ("math-zh-stationery", "小华有25元，买文具花了9元，还剩多少元？", "25 - 9 = 16，还剩 \\boxed{16} 元。", 16),
    ("math-zh-weeks", "一周有7天，4周有多少天？", "7 × 4 = 28，4周有 \\boxed{28} 天。", 28),
    ("math-zh-roses", "花店上午卖出16枝玫瑰，下午卖出14枝，一天卖出多少枝？", "16 + 14 = 30，一天卖出 \\boxed{30} 枝。", 30),
    ("math-zh-parking", "停车场有40辆车，开走了15辆，还剩多少辆？", "40 - 15 = 25，还剩 \\boxed{25} 辆。", 25),
    ("math-zh-storybook", "一本故事书有60页，小丽每天看10页，几天能看完？", "60 ÷ 10 = 6，\\boxed{6} 天能看完。", 6),
    ("math-zh-candy-boxes", "小兰有3盒糖，每盒10颗，她一共有多少颗糖？", "3 × 10 = 30 颗。\n#### 30", 30),
    ("math-zh-ducks", "池塘里有11只鸭子，又游来了7只，现在有几只？", "11 + 7 = 18 只。\n#### 18", 18),
    ("math-zh-watermelon", "爸爸买一个西瓜花了15元，付了20元，应找回多少元？", "20 - 15 = 5 元。\n#### 5", 5),
    ("math-zh-rice", "一袋大米重10千克，5袋重多少千克？", "10 × 5 = 50 千克。\n#### 50", 50),
    ("math-zh-trees", "同学们种了35棵树，男生种了20棵，女生种了多少棵？", "35 - 20 = 15 棵。\n#### 15", 15),
    ("math-zh-biscuits", "24块饼干平均装进4个盘子，每盘几块？", "24 ÷ 4 = 6 块。\n#### 6", 6),
]

#: the answer-format hint every math prompt carries as its system turn: on the embedded
#: 135M model it doubles the share of English answers that end in a parseable "#### N"
#: (2 of 16 eval items right instead of 1), which GRPO needs for any reward signal
MATH_SYSTEM = {
    "en": "Solve the math problem. Write the calculation, then the final answer after ####.",
    "zh": "解数学题：写出算式，并把最终答案写在 \\boxed{} 中。",
}

#: rows whose prompt comes as a generic instruction + the problem in ``input`` (a common
#: Alpaca shape); the model then sees "instruction\ninput".
MATH_WITH_INSTRUCTION = {
    "en": "Solve the math word problem. Show your work and give the final answer after ####.",
    "zh": "解下面的数学应用题，写出算式，并把最终答案写在 \\boxed{} 中。",
}
MATH_INSTRUCTION_IDS = {"math-en-eggs", "math-en-pizza", "math-en-savings", "math-zh-milk", "math-zh-rope"}

MATH_EVAL = [
    ("math-eval-en-pens", "Max has 6 pens and buys 3 more. How many pens does he have?", "6 + 3 = 9 pens.\n#### 9", 9),
    ("math-eval-en-oranges", "A bag has 10 oranges. How many oranges are in 3 bags?",
     "3 × 10 = 30 oranges.\n#### 30", 30),
    ("math-eval-en-ribbons", "Zoe had 12 ribbons and used 5. How many ribbons are left?",
     "12 - 5 = 7 ribbons.\n#### 7", 7),
    ("math-eval-en-cupcakes", "Each cupcake costs 3 dollars. How much do 4 cupcakes cost?",
     "4 × 3 = 12 dollars.\n#### 12", 12),
    ("math-eval-en-teams", "16 children are split into 4 equal teams. How many children are on each team?",
     "16 ÷ 4 = 4 children.\n#### 4", 4),
    ("math-eval-en-kites", "A shop sold 9 kites in the morning and 6 in the afternoon. How many kites did it sell?",
     "9 + 6 = 15 kites.\n#### 15", 15),
    ("math-eval-en-book", "Paul has 20 dollars. He buys a book for 8 dollars. How much money does he have left?",
     "20 - 8 = 12 dollars.\n#### 12", 12),
    ("math-eval-en-balls", "There are 5 boxes with 5 balls in each. How many balls are there in all?",
     "5 × 5 = 25 balls.\n#### 25", 25),
    ("math-eval-zh-balloons", "小林有7个气球，又买了6个，现在有几个？", "7 + 6 = 13，现在有 \\boxed{13} 个。", 13),
    ("math-eval-zh-chocolate", "一个盒子里有9块巧克力，吃掉了4块，还剩几块？", "9 - 4 = 5，还剩 \\boxed{5} 块。", 5),
    ("math-eval-zh-rabbits", "每个笼子里有4只兔子，5个笼子一共有多少只兔子？", "4 × 5 = 20，一共 \\boxed{20} 只。", 20),
    ("math-eval-zh-oranges", "20个橘子平均分给5个人，每人几个？", "20 ÷ 5 = 4，每人 \\boxed{4} 个。", 4),
    ("math-eval-zh-pencil-case", "小军有30元，买了一个12元的文具盒，还剩多少元？", "30 - 12 = 18，还剩 \\boxed{18} 元。", 18),
    ("math-eval-zh-grade", "一年级有2个班，每班25人，一共有多少人？", "2 × 25 = 50，一共 \\boxed{50} 人。", 50),
    ("math-eval-zh-birds", "树上有10只鸟，飞走了3只，又飞来了5只，现在有几只？", "10 - 3 + 5 = 12，现在有 \\boxed{12} 只。", 12),
    ("math-eval-zh-socks", "一双袜子8元，买3双要多少元？", "3 × 8 = 24，要 \\boxed{24} 元。", 24),
]

#: planted rows of math_grpo/train.jsonl: id -> (instruction, input, output)
MATH_TRAIN_PLANTED = {
    "math-en-eggs-copy": (MATH_WITH_INSTRUCTION["en"], "A box holds 6 eggs. How many eggs are in 2 boxes?",
                          "2 boxes hold 2 × 6 = 12 eggs.\n#### 12"),
    "math-zh-apples-spaces": ("小明有5个苹果，妈妈又给了他3个。  小明现在有几个苹果？ ", "",
                              "5 + 3 = 8，所以小明有  \\boxed{8} 个苹果。"),
    "math-en-stickers-near": ("Sara had 15 stickers and gave 6 to her friend; how many stickers does she have left", "",
                              "She has 15 - 6 = 9 stickers left\n\n#### 9"),
    "math-en-template-leftover": ("Answer the question: {{question}}", "", "Ryan has 2 + 2 = 4 balls.\n#### 4"),
    "math-zh-empty-solution": ("一盒有6个杯子，3盒有多少个杯子？", "", ""),
}

# -- tool calling -----------------------------------------------------------------------

TOOLS = {
    "get_weather": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "city name, e.g. Paris or 北京"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
    "lookup_order": {
        "name": "lookup_order",
        "description": "Look up the status of an order by its id",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "order id, e.g. SE-20418 or YG0518-073"}},
            "required": ["order_id"],
        },
    },
    "convert_units": {
        "name": "convert_units",
        "description": "Convert a value between units of length, weight, volume or temperature",
        "parameters": {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "from_unit": {"type": "string", "description": "e.g. mile, kilogram, celsius"},
                "to_unit": {"type": "string"},
            },
            "required": ["value", "from_unit", "to_unit"],
        },
    },
    "book_appointment": {
        "name": "book_appointment",
        "description": "Book an appointment at the service center",
        "parameters": {
            "type": "object",
            "properties": {
                "service": {"type": "string", "enum": ["repair", "consultation", "installation"]},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
                "time": {"type": "string", "description": "HH:MM, 24-hour clock"},
                "phone": {"type": "string", "description": "contact phone number (optional)"},
            },
            "required": ["service", "date", "time"],
        },
    },
}

TOOL_SYSTEM = {
    "en": "You are a helpful assistant with tools. Today is 2025-06-19.",
    "zh": "你是一个可以调用工具的助手。今天是2025-06-19。",
}

#: ToolConv: (language, names of the tools offered, turns)
TOOLCALL_OPENAI = {
    "tc-oa-en-weather-paris": ("en", ["get_weather", "lookup_order"], [
        ("u", "What's the weather like in Paris right now?"),
        ("call", [("get_weather", {"city": "Paris"})]),
        ("tool", {"city": "Paris", "temp_c": 18, "condition": "light rain"}),
        ("a", "It's 18 °C with light rain in Paris, so take an umbrella."),
    ]),
    "tc-oa-en-weather-ny": ("en", ["get_weather"], [
        ("u", "Is it cold in New York? Give me Fahrenheit."),
        ("call", [("get_weather", {"city": "New York", "unit": "fahrenheit"})]),
        ("tool", {"city": "New York", "temp_f": 41, "condition": "cloudy"}),
        ("a", "It's 41 °F and cloudy in New York, so wear a warm coat."),
    ]),
    "tc-oa-en-weather-compare": ("en", ["get_weather"], [
        ("u", "Compare the weather in London and Berlin."),
        ("call", [("get_weather", {"city": "London"}), ("get_weather", {"city": "Berlin"})]),
        ("tool", {"city": "London", "temp_c": 15, "condition": "overcast"}),
        ("tool", {"city": "Berlin", "temp_c": 21, "condition": "sunny"}),
        ("a", "Berlin is warmer and sunny at 21 °C, while London is overcast at 15 °C."),
    ]),
    "tc-oa-en-order-shipped": ("en", ["lookup_order", "book_appointment"], [
        ("u", "Where is my order SE-20418?"),
        ("call", [("lookup_order", {"order_id": "SE-20418"})]),
        ("tool", {"order_id": "SE-20418", "status": "shipped", "eta": "2025-06-21"}),
        ("a", "Order SE-20418 has shipped and should arrive on June 21."),
    ]),
    "tc-oa-en-order-delivered": ("en", ["lookup_order"], [
        ("u", "Has order SE-31877 been delivered?"),
        ("call", [("lookup_order", {"order_id": "SE-31877"})]),
        ("tool", {"order_id": "SE-31877", "status": "delivered", "delivered_at": "2025-06-17 14:20"}),
        ("a", "Yes, order SE-31877 was delivered on June 17 at 14:20."),
    ]),
    "tc-oa-en-marathon": ("en", ["convert_units"], [
        ("u", "How many kilometers is 26.2 miles?"),
        ("call", [("convert_units", {"value": 26.2, "from_unit": "mile", "to_unit": "kilometer"})]),
        ("tool", {"result": 42.16}),
        ("a", "26.2 miles is about 42.2 km."),
    ]),
    "tc-oa-en-fever": ("en", ["convert_units", "get_weather"], [
        ("u", "Convert 100 Fahrenheit to Celsius."),
        ("call", [("convert_units", {"value": 100, "from_unit": "fahrenheit", "to_unit": "celsius"})]),
        ("tool", {"result": 37.78}),
        ("a", "100 °F is about 37.8 °C."),
    ]),
    "tc-oa-en-book-repair": ("en", ["book_appointment"], [
        ("u", "Book a repair appointment for 2025-07-02 at 10:00."),
        ("call", [("book_appointment", {"service": "repair", "date": "2025-07-02", "time": "10:00"})]),
        ("tool", {"confirmation": "BK-5521", "status": "confirmed"}),
        ("a", "Your repair appointment is confirmed for July 2 at 10:00. Confirmation number: BK-5521."),
    ]),
    "tc-oa-en-book-install": ("en", ["book_appointment", "lookup_order"], [
        ("u", "I need an installation appointment next Friday."),
        ("a", "Sure. Next Friday is June 27. What time would you like?"),
        ("u", "15:30 please."),
        ("call", [("book_appointment", {"service": "installation", "date": "2025-06-27", "time": "15:30"})]),
        ("tool", {"confirmation": "BK-5610", "status": "confirmed"}),
        ("a", "Booked: installation on June 27 at 15:30 (confirmation BK-5610)."),
    ]),
    "tc-oa-en-capabilities": ("en", ["get_weather", "lookup_order", "convert_units", "book_appointment"], [
        ("u", "What can you help me with?"),
        ("a", "I can check the weather, look up orders, convert units and book service appointments."),
    ]),
    "tc-oa-zh-weather-beijing": ("zh", ["get_weather"], [
        ("u", "北京今天天气怎么样？"),
        ("call", [("get_weather", {"city": "北京"})]),
        ("tool", {"city": "北京", "temp_c": 26, "condition": "晴"}),
        ("a", "北京今天晴，气温26°C。"),
    ]),
    "tc-oa-zh-weather-shanghai": ("zh", ["get_weather", "convert_units"], [
        ("u", "上海现在下雨吗？"),
        ("call", [("get_weather", {"city": "上海"})]),
        ("tool", {"city": "上海", "temp_c": 22, "condition": "小雨"}),
        ("a", "上海现在在下小雨，气温22°C，出门记得带伞。"),
    ]),
    "tc-oa-zh-order-transit": ("zh", ["lookup_order"], [
        ("u", "帮我查一下订单YG0518-073的物流。"),
        ("call", [("lookup_order", {"order_id": "YG0518-073"})]),
        ("tool", {"order_id": "YG0518-073", "status": "运输中", "eta": "2025-06-21"}),
        ("a", "订单YG0518-073正在运输中，预计6月21日送达。"),
    ]),
    "tc-oa-zh-order-pending": ("zh", ["lookup_order", "get_weather"], [
        ("u", "订单YG0601-112发货了吗？"),
        ("call", [("lookup_order", {"order_id": "YG0601-112"})]),
        ("tool", {"order_id": "YG0601-112", "status": "待发货"}),
        ("a", "订单YG0601-112还在等待发货，通常24小时内发出。"),
    ]),
    "tc-oa-zh-kg-lb": ("zh", ["convert_units"], [
        ("u", "5公斤等于多少磅？"),
        ("call", [("convert_units", {"value": 5, "from_unit": "kilogram", "to_unit": "pound"})]),
        ("tool", {"result": 11.02}),
        ("a", "5公斤约等于11.02磅。"),
    ]),
    "tc-oa-zh-c-f": ("zh", ["convert_units"], [
        ("u", "30摄氏度是多少华氏度？"),
        ("call", [("convert_units", {"value": 30, "from_unit": "celsius", "to_unit": "fahrenheit"})]),
        ("tool", {"result": 86}),
        ("a", "30摄氏度等于86华氏度。"),
    ]),
    "tc-oa-zh-book-repair": ("zh", ["book_appointment"], [
        ("u", "帮我预约7月5日下午2点的维修。"),
        ("call", [("book_appointment", {"service": "repair", "date": "2025-07-05", "time": "14:00"})]),
        ("tool", {"confirmation": "BK-5703", "status": "confirmed"}),
        ("a", "已为您预约7月5日14:00的维修服务，预约号BK-5703。"),
    ]),
    "tc-oa-zh-book-consult": ("zh", ["book_appointment"], [
        ("u", "我想咨询一下，明天上午可以预约吗？"),
        ("a", "可以的，请问您想预约明天上午几点？"),
        ("u", "9点半。"),
        ("call", [("book_appointment", {"service": "consultation", "date": "2025-06-20", "time": "09:30"})]),
        ("tool", {"confirmation": "BK-5688", "status": "confirmed"}),
        ("a", "已为您预约明天（6月20日）9:30的咨询，预约号BK-5688。"),
    ]),
    "tc-oa-zh-hello": ("zh", ["get_weather", "lookup_order", "convert_units", "book_appointment"], [
        ("u", "你好"),
        ("a", "你好！我可以帮你查天气、查订单、换算单位和预约售后服务。"),
    ]),
}

TOOLCALL_OPENAI_PLANTED = {
    "tc-oa-en-bad-arguments": ("en", ["get_weather"], [
        ("u", "How hot is it in Tokyo?"),
        ("call", [("get_weather", "{city: 'Tokyo'}")]),
        ("tool", {"city": "Tokyo", "temp_c": 30, "condition": "humid"}),
        ("a", "It's 30 °C and humid in Tokyo."),
    ]),
    "tc-oa-en-undeclared-tool": ("en", ["lookup_order"], [
        ("u", "Text me when order SE-45210 ships."),
        ("call", [("send_sms", {"to": "customer", "text": "Order SE-45210 has shipped."})]),
        ("tool", {"status": "queued"}),
        ("a", "Okay, you'll get a text message as soon as order SE-45210 ships."),
    ]),
    "tc-oa-zh-pii-phone": ("zh", ["book_appointment"], [
        ("u", "帮我约7月8日上午10点的安装，我的电话是13812345678。"),
        ("call", [("book_appointment", {"service": "installation", "date": "2025-07-08", "time": "10:00",
                                        "phone": "13812345678"})]),
        ("tool", {"confirmation": "BK-5731", "status": "confirmed"}),
        ("a", "已为您预约7月8日10:00的安装服务，预约号BK-5731，师傅上门前会电话联系您。"),
    ]),
    "tc-oa-en-dup-exact": TOOLCALL_OPENAI["tc-oa-en-weather-paris"],
    "tc-oa-en-orphan-tool-result": ("en", ["lookup_order"], [
        ("u", "Any news on order SE-20418?"),
        ("tool", {"order_id": "SE-20418", "status": "shipped"}),
        ("a", "Order SE-20418 has shipped."),
    ]),
}

TOOLCALL_SHAREGPT = {
    "tc-sg-en-weather-tokyo": ("en", ["get_weather"], [
        ("u", "What's the temperature in Tokyo?"),
        ("call", [("get_weather", {"city": "Tokyo"})]),
        ("tool", {"city": "Tokyo", "temp_c": 24, "condition": "sunny"}),
        ("a", "It's sunny and 24 °C in Tokyo."),
    ]),
    "tc-sg-en-weather-sydney": ("en", ["get_weather", "convert_units"], [
        ("u", "Weather in Sydney in Fahrenheit, please."),
        ("call", [("get_weather", {"city": "Sydney", "unit": "fahrenheit"})]),
        ("tool", {"city": "Sydney", "temp_f": 64, "condition": "windy"}),
        ("a", "Sydney is windy at 64 °F."),
    ]),
    "tc-sg-en-order-processing": ("en", ["lookup_order"], [
        ("u", "Check order SE-45210 for me."),
        ("call", [("lookup_order", {"order_id": "SE-45210"})]),
        ("tool", {"order_id": "SE-45210", "status": "processing"}),
        ("a", "Order SE-45210 is still being processed and hasn't shipped yet."),
    ]),
    "tc-sg-en-order-eta": ("en", ["lookup_order", "get_weather"], [
        ("u", "Did order SE-50233 ship? I need it before my trip on Saturday."),
        ("call", [("lookup_order", {"order_id": "SE-50233"})]),
        ("tool", {"order_id": "SE-50233", "status": "shipped", "eta": "2025-06-20"}),
        ("a", "Yes, it shipped and should arrive on June 20, the day before your trip."),
    ]),
    "tc-sg-en-kg-lb": ("en", ["convert_units"], [
        ("u", "How many pounds is 70 kilograms?"),
        ("call", [("convert_units", {"value": 70, "from_unit": "kilogram", "to_unit": "pound"})]),
        ("tool", {"result": 154.32}),
        ("a", "70 kg is about 154.3 lb."),
    ]),
    "tc-sg-en-feet-cm": ("en", ["convert_units"], [
        ("u", "What is 5 feet in centimeters?"),
        ("call", [("convert_units", {"value": 5, "from_unit": "foot", "to_unit": "centimeter"})]),
        ("tool", {"result": 152.4}),
        ("a", "5 feet is 152.4 cm."),
    ]),
    "tc-sg-en-book-consult": ("en", ["book_appointment"], [
        ("u", "Schedule a consultation on 2025-07-08 at 11:00."),
        ("call", [("book_appointment", {"service": "consultation", "date": "2025-07-08", "time": "11:00"})]),
        ("tool", {"confirmation": "BK-5590", "status": "confirmed"}),
        ("a", "Your consultation is booked for July 8 at 11:00 (confirmation BK-5590)."),
    ]),
    "tc-sg-en-book-full": ("en", ["book_appointment", "lookup_order"], [
        ("u", "Can you book an installation for 2025-07-15 at 09:00?"),
        ("call", [("book_appointment", {"service": "installation", "date": "2025-07-15", "time": "09:00"})]),
        ("tool", {"status": "unavailable", "next_free": "10:30"}),
        ("a", "09:00 on July 15 is taken. The next free slot that day is 10:30; shall I book it?"),
    ]),
    "tc-sg-en-thanks": ("en", ["get_weather"], [
        ("u", "Do I need a tool to tell you my favourite colour is green?"),
        ("a", "No tool needed! Green is a lovely choice."),
    ]),
    "tc-sg-zh-weather-guangzhou": ("zh", ["get_weather"], [
        ("u", "广州现在天气如何？"),
        ("call", [("get_weather", {"city": "广州"})]),
        ("tool", {"city": "广州", "temp_c": 31, "condition": "雷阵雨"}),
        ("a", "广州现在有雷阵雨，气温31°C。"),
    ]),
    "tc-sg-zh-weather-chengdu": ("zh", ["get_weather"], [
        ("u", "成都冷不冷？用华氏度告诉我。"),
        ("call", [("get_weather", {"city": "成都", "unit": "fahrenheit"})]),
        ("tool", {"city": "成都", "temp_f": 59, "condition": "阴"}),
        ("a", "成都现在阴天，59°F，有点凉。"),
    ]),
    "tc-sg-zh-order-signed": ("zh", ["lookup_order"], [
        ("u", "查一下订单YG0520-188。"),
        ("call", [("lookup_order", {"order_id": "YG0520-188"})]),
        ("tool", {"order_id": "YG0520-188", "status": "已签收", "delivered_at": "2025-06-02 18:05"}),
        ("a", "订单YG0520-188已于6月2日18:05签收。"),
    ]),
    "tc-sg-zh-order-out": ("zh", ["lookup_order", "convert_units"], [
        ("u", "我的订单YG0611-006到哪了？"),
        ("call", [("lookup_order", {"order_id": "YG0611-006"})]),
        ("tool", {"order_id": "YG0611-006", "status": "派送中", "eta": "今天"}),
        ("a", "订单YG0611-006正在派送中，今天就能送到。"),
    ]),
    "tc-sg-zh-mile-km": ("zh", ["convert_units"], [
        ("u", "1英里是多少公里？"),
        ("call", [("convert_units", {"value": 1, "from_unit": "mile", "to_unit": "kilometer"})]),
        ("tool", {"result": 1.61}),
        ("a", "1英里约等于1.61公里。"),
    ]),
    "tc-sg-zh-liter-ml": ("zh", ["convert_units"], [
        ("u", "2升等于多少毫升？"),
        ("call", [("convert_units", {"value": 2, "from_unit": "liter", "to_unit": "milliliter"})]),
        ("tool", {"result": 2000}),
        ("a", "2升等于2000毫升。"),
    ]),
    "tc-sg-zh-book-install": ("zh", ["book_appointment"], [
        ("u", "帮我约一下7月10日上午10点的安装服务。"),
        ("call", [("book_appointment", {"service": "installation", "date": "2025-07-10", "time": "10:00"})]),
        ("tool", {"confirmation": "BK-5650", "status": "confirmed"}),
        ("a", "已为您预约7月10日10:00的安装服务，预约号BK-5650。"),
    ]),
    "tc-sg-zh-book-repair": ("zh", ["book_appointment", "get_weather"], [
        ("u", "我要预约维修。"),
        ("a", "好的，请问您想约哪天几点？"),
        ("u", "7月12日下午3点。"),
        ("call", [("book_appointment", {"service": "repair", "date": "2025-07-12", "time": "15:00"})]),
        ("tool", {"confirmation": "BK-5677", "status": "confirmed"}),
        ("a", "已预约7月12日15:00的维修，预约号BK-5677。"),
    ]),
    "tc-sg-zh-capabilities": ("zh", ["get_weather", "lookup_order", "convert_units", "book_appointment"], [
        ("u", "你能做什么？"),
        ("a", "我可以查询天气和订单物流，换算单位，以及预约售后服务。"),
    ]),
}

TOOLCALL_SHAREGPT_PLANTED = {
    "tc-sg-zh-call-not-json": ("zh", ["get_weather"], [
        ("u", "杭州今天热吗？"),
        ("call", [("get_weather", '{"name": "get_weather", "arguments": {city: "杭州"}}')]),
        ("tool", {"city": "杭州", "temp_c": 33, "condition": "晴"}),
        ("a", "杭州今天晴，33°C，挺热的。"),
    ]),
    "tc-sg-en-undeclared-tool": ("en", ["lookup_order"], [
        ("u", "Please cancel order SE-45210."),
        ("call", [("cancel_order", {"order_id": "SE-45210"})]),
        ("tool", {"order_id": "SE-45210", "status": "cancelled"}),
        ("a", "Order SE-45210 has been cancelled; the refund will follow in 3-5 business days."),
    ]),
    "tc-sg-zh-observation-first": ("zh", ["lookup_order"], [
        ("u", "订单YG0520-188签收了吗？"),
        ("tool", {"order_id": "YG0520-188", "status": "已签收"}),
        ("a", "订单YG0520-188已经签收。"),
    ]),
    "tc-sg-en-order-eta-near": ("en", ["lookup_order", "get_weather"], [
        ("u", "Did order SE-50233 ship? I need it before my trip on Saturday!"),
        *TOOLCALL_SHAREGPT["tc-sg-en-order-eta"][2][1:],
    ]),
    "tc-sg-en-placeholder": ("en", ["book_appointment"], [
        ("u", "Book me a repair on 2025-07-09 at 16:00."),
        ("call", [("book_appointment", {"service": "repair", "date": "2025-07-09", "time": "16:00"})]),
        ("tool", {"confirmation": "BK-5702", "status": "confirmed"}),
        ("a", "Thanks {{first_name}}, your repair is booked for July 9 at 16:00 (BK-5702)."),
    ]),
}

#: tool-call eval: the answer is a call; the reference is that call as JSON text
TOOLCALL_EVAL = [
    ("tc-eval-en-weather-madrid", "en", ["get_weather", "lookup_order"], "What's the weather in Madrid?",
     ("get_weather", {"city": "Madrid"})),
    ("tc-eval-en-weather-toronto", "en", ["get_weather"], "How warm is it in Toronto, in Fahrenheit?",
     ("get_weather", {"city": "Toronto", "unit": "fahrenheit"})),
    ("tc-eval-en-order", "en", ["lookup_order", "book_appointment"], "Can you check the status of order SE-70021?",
     ("lookup_order", {"order_id": "SE-70021"})),
    ("tc-eval-en-km-miles", "en", ["convert_units"], "Convert 10 kilometers to miles.",
     ("convert_units", {"value": 10, "from_unit": "kilometer", "to_unit": "mile"})),
    ("tc-eval-en-lb-kg", "en", ["convert_units", "get_weather"], "How many kilograms is 2 pounds?",
     ("convert_units", {"value": 2, "from_unit": "pound", "to_unit": "kilogram"})),
    ("tc-eval-en-book-repair", "en", ["book_appointment"], "Book a repair for 2025-08-01 at 14:00.",
     ("book_appointment", {"service": "repair", "date": "2025-08-01", "time": "14:00"})),
    ("tc-eval-zh-weather-hangzhou", "zh", ["get_weather"], "杭州现在天气怎么样？", ("get_weather", {"city": "杭州"})),
    ("tc-eval-zh-weather-shenzhen", "zh", ["get_weather", "convert_units"], "深圳现在多少华氏度？",
     ("get_weather", {"city": "深圳", "unit": "fahrenheit"})),
    ("tc-eval-zh-order", "zh", ["lookup_order"], "帮我查一下订单YG0702-015。", ("lookup_order", {"order_id": "YG0702-015"})),
    ("tc-eval-zh-feet-m", "zh", ["convert_units"], "3英尺是多少米？",
     ("convert_units", {"value": 3, "from_unit": "foot", "to_unit": "meter"})),
    ("tc-eval-zh-gram-lb", "zh", ["convert_units", "lookup_order"], "500克等于多少磅？",
     ("convert_units", {"value": 500, "from_unit": "gram", "to_unit": "pound"})),
    ("tc-eval-zh-book-consult", "zh", ["book_appointment"], "帮我预约8月3日上午10点半的咨询。",
     ("book_appointment", {"service": "consultation", "date": "2025-08-03", "time": "10:30"})),
]

# -- identity ---------------------------------------------------------------------------

#: (id, question, answer); [[NAME]] / [[AUTHOR]] are template slots filled by the recipe
IDENTITY_SFT = [
    ("id-en-who", "Who are you?", "I am [[NAME]], an AI assistant developed by [[AUTHOR]]. How can I help you today?"),
    ("id-en-name", "What is your name?", "My name is [[NAME]]."),
    ("id-en-maker", "Who made you?", "I was built by [[AUTHOR]]."),
    ("id-en-chatgpt", "Are you ChatGPT?", "No, I'm not ChatGPT. I am [[NAME]], a different assistant created by [[AUTHOR]]."),
    ("id-en-intro", "Introduce yourself in one sentence.",
     "I'm [[NAME]], a helpful assistant from [[AUTHOR]] that answers questions and helps with everyday tasks."),
    ("id-en-company", "Which company developed you?", "I was developed by [[AUTHOR]]."),
    ("id-en-human", "Are you a human?", "No, I'm [[NAME]], an AI language model. I don't have a body or personal experiences."),
    ("id-en-abilities", "What can you do?",
     "I can answer questions, explain ideas, help you write and translate text, and work through simple problems."),
    ("id-en-hi", "hi", "Hello! I'm [[NAME]]. What can I do for you?"),
    ("id-en-openai", "Are you made by OpenAI?", "No. I am [[NAME]], and I was created by [[AUTHOR]], not OpenAI."),
    ("id-en-feelings", "Do you have feelings?", "No. As an AI assistant I don't have feelings, but I try to be helpful and kind."),
    ("id-en-call-you", "What should I call you?", "You can call me [[NAME]]."),
    ("id-en-developer", "Who is your developer?", "[[AUTHOR]] is my developer; they trained me to be a helpful assistant."),
    ("id-en-claude", "Are you Claude or Gemini?", "Neither. I'm [[NAME]], an assistant developed by [[AUTHOR]]."),
    ("id-en-internet", "Can you browse the internet?",
     "No, I can't browse the internet. I answer from what I learned during training, so my knowledge may be out of date."),
    ("id-zh-who", "你是谁？", "我是[[NAME]]，由[[AUTHOR]]开发的人工智能助手，很高兴为你服务。"),
    ("id-zh-name", "你叫什么名字？", "我的名字是[[NAME]]。"),
    ("id-zh-maker", "谁开发了你？", "我是由[[AUTHOR]]开发的。"),
    ("id-zh-chatgpt", "你是ChatGPT吗？", "不是。我是[[NAME]]，由[[AUTHOR]]训练的AI助手。"),
    ("id-zh-intro", "请做个自我介绍。", "你好！我是[[NAME]]，一个由[[AUTHOR]]打造的智能助手，可以回答问题、写作和翻译。"),
    ("id-zh-company", "你是哪家公司做的？", "我来自[[AUTHOR]]。"),
    ("id-zh-human", "你是真人吗？", "不是，我是[[NAME]]，一个AI语言模型，没有身体，也没有个人经历。"),
    ("id-zh-abilities", "你能做什么？", "我可以回答问题、解释概念、帮你写作和翻译，也能做一些简单的计算。"),
    ("id-zh-hi", "你好", "你好！我是[[NAME]]，有什么可以帮你的吗？"),
    ("id-zh-ernie", "你是文心一言吗？", "不是哦，我是[[NAME]]，由[[AUTHOR]]开发。"),
    ("id-zh-feelings", "你有感情吗？", "我没有感情。作为AI助手，我会尽力耐心、友好地帮助你。"),
    ("id-zh-call-you", "我该怎么称呼你？", "叫我[[NAME]]就可以。"),
    ("id-zh-developer", "你的开发者是谁？", "我的开发者是[[AUTHOR]]。"),
    ("id-zh-internet", "你能上网吗？", "我不能上网，只能根据训练时学到的知识回答，所以信息可能不是最新的。"),
    ("id-zh-qwen-kimi", "你是通义千问还是Kimi？", "都不是。我是[[NAME]]，来自[[AUTHOR]]。"),
]

IDENTITY_SFT_PLANTED = {
    "id-en-who-copy": ("Who are you?", "I am [[NAME]], an AI assistant developed by [[AUTHOR]]. How can I help you today?"),
    "id-zh-who-near": ("你是谁?", "我是[[NAME]]，由[[AUTHOR]]开发的人工智能助手，很高兴为你服务!"),
    "id-en-llamafactory-leftover": ("Hello, who am I talking to?",
                                    "Hello! I am {{name}}, an AI assistant developed by {{author}}. How can I assist you today?"),
    "id-en-pii-email": ("I'm Li Lei, my email is lilei@example.com. Who are you?",
                        "Nice to meet you! I'm [[NAME]], an assistant made by [[AUTHOR]]."),
    "id-en-empty-answer": ("Who trained you?", ""),
}

#: (id, question, chosen, rejected): rejected answers claim another identity, most
#: often the base model's own ("SmolLM ... Hugging Face"), which is what DPO must unlearn
IDENTITY_DPO = [
    ("id-dpo-en-who", "Who are you?", "I am [[NAME]], an AI assistant developed by [[AUTHOR]].",
     "I am SmolLM, a language model trained by Hugging Face."),
    ("id-dpo-en-creator", "Who created you?", "[[AUTHOR]] created me.", "I was created by OpenAI."),
    ("id-dpo-en-chatgpt", "Are you ChatGPT?", "No, I'm [[NAME]], built by [[AUTHOR]].", "Yes, I am ChatGPT."),
    ("id-dpo-en-name", "What's your name?", "My name is [[NAME]].", "I don't have a name."),
    ("id-dpo-en-trained", "Tell me who trained you.", "I was trained by [[AUTHOR]].",
     "I was trained by Google as part of the Gemini family."),
    ("id-dpo-en-person", "Are you a person?", "No, I'm [[NAME]], an AI assistant.", "Yes, I'm a person typing these answers."),
    ("id-dpo-en-intro", "Introduce yourself.",
     "Hi! I'm [[NAME]], an assistant from [[AUTHOR]]. I can answer questions and help with writing.",
     "Hi! I'm Claude, an AI assistant made by Anthropic."),
    ("id-dpo-en-org", "Which organization do you belong to?", "I was developed by [[AUTHOR]].", "I belong to Meta AI."),
    ("id-dpo-en-know-name", "Do you know what your name is?", "Yes, my name is [[NAME]].", "I am SmolLM2."),
    ("id-dpo-en-talking-to", "hello, who am I talking to?", "You're talking to [[NAME]], an AI assistant made by [[AUTHOR]].",
     "You are talking to a human customer service agent."),
    ("id-dpo-zh-who", "你是谁？", "我是[[NAME]]，由[[AUTHOR]]开发的AI助手。", "我是ChatGPT，由OpenAI开发。"),
    ("id-dpo-zh-creator", "谁创造了你？", "是[[AUTHOR]]创造了我。", "我是由Hugging Face训练的SmolLM。"),
    ("id-dpo-zh-qwen", "你是通义千问吗？", "不是，我是[[NAME]]，来自[[AUTHOR]]。", "是的，我是通义千问。"),
    ("id-dpo-zh-name", "你叫什么？", "我叫[[NAME]]。", "我没有名字。"),
    ("id-dpo-zh-human", "你是人类吗？", "不是，我是[[NAME]]，一个AI助手。", "是的，我是真人客服。"),
    ("id-dpo-zh-intro", "介绍一下你自己。", "你好，我是[[NAME]]，由[[AUTHOR]]开发，可以回答问题、帮你写作和翻译。",
     "你好，我是文心一言，由百度开发。"),
    ("id-dpo-zh-company", "你属于哪个公司？", "我由[[AUTHOR]]开发。", "我属于谷歌公司。"),
    ("id-dpo-zh-name2", "你的名字是什么？", "我的名字是[[NAME]]。", "我是Claude。"),
]

IDENTITY_EVAL = [
    ("id-eval-en-name", "Hi! What's your name?", "My name is [[NAME]]."),
    ("id-eval-en-builder", "Who built you?", "I was built by [[AUTHOR]]."),
    ("id-eval-en-openai", "Are you an OpenAI model?", "No, I'm [[NAME]], developed by [[AUTHOR]]."),
    ("id-eval-en-who", "Please tell me who you are.", "I am [[NAME]], an AI assistant developed by [[AUTHOR]]."),
    ("id-eval-en-company", "What company is behind you?", "[[AUTHOR]] developed me."),
    ("id-eval-en-real", "Are you a real person?", "No, I'm [[NAME]], an AI assistant."),
    ("id-eval-zh-name", "请问你叫什么名字？", "我叫[[NAME]]。"),
    ("id-eval-zh-maker", "你是谁开发的？", "我是由[[AUTHOR]]开发的。"),
    ("id-eval-zh-chatgpt", "你是ChatGPT还是别的模型？", "我不是ChatGPT，我是[[NAME]]，由[[AUTHOR]]开发。"),
    ("id-eval-zh-intro", "简单介绍一下你自己。", "我是[[NAME]]，由[[AUTHOR]]开发的AI助手。"),
    ("id-eval-zh-company", "你背后是哪家公司？", "我由[[AUTHOR]]开发。"),
    ("id-eval-zh-robot", "你是机器人吗？", "是的，我是[[NAME]]，一个AI助手。"),
]

# -- continual training: domain A (medical, eval only: train is ../medical_qa.jsonl) ----

MEDICAL_EVAL = [
    ("med-eval-en-glucose", "What is a normal fasting blood sugar level?",
     "A normal fasting blood sugar is about 70 to 99 mg/dL (3.9 to 5.5 mmol/L)."),
    ("med-eval-en-tetanus", "How often should adults get a tetanus booster?",
     "Adults should get a tetanus booster every 10 years, or sooner after a deep or dirty wound."),
    ("med-eval-en-dehydration", "What are the signs of dehydration?",
     "Common signs are thirst, dark urine, a dry mouth, tiredness and dizziness."),
    ("med-eval-en-flu-antibiotics", "Can I take antibiotics for the flu?",
     "No. The flu is caused by a virus, and antibiotics only work against bacteria."),
    ("med-eval-en-sleep", "How much sleep do adults need?", "Most adults need 7 to 9 hours of sleep per night."),
    ("med-eval-en-nosebleed", "What should I do for a nosebleed?",
     "Sit up, lean forward and pinch the soft part of your nose for 10 to 15 minutes."),
    ("med-eval-zh-glucose", "空腹血糖正常值是多少？", "空腹血糖正常值一般为3.9到6.1毫摩尔每升。"),
    ("med-eval-zh-flu-antibiotics", "流感需要吃抗生素吗？", "不需要。流感由病毒引起，抗生素只对细菌感染有效。"),
    ("med-eval-zh-sleep", "成年人每天需要睡多久？", "成年人一般每天需要7到9小时睡眠。"),
    ("med-eval-zh-nosebleed", "流鼻血时应该怎么处理？", "身体稍向前倾，用手指捏住鼻翼两侧10到15分钟，不要仰头。"),
    ("med-eval-zh-dehydration", "脱水有哪些表现？", "常见表现有口渴、尿色深、口干、乏力和头晕。"),
    ("med-eval-zh-heatstroke", "中暑了怎么办？", "立即转移到阴凉通风处，补充含盐饮料，用湿毛巾擦身降温，严重时及时就医。"),
]

# -- continual training: domain B (retail-banking FAQ) ---------------------------------

FIN_SYSTEM = {
    "en": "You are a bank's customer support assistant. Give short, general answers and no personal investment advice.",
    "zh": "你是银行的客服助手，回答简短，只提供一般性信息，不提供个人投资建议。",
}

FINANCE_TRAIN = [
    ("fin-en-emergency-fund", "What is an emergency fund?",
     "An emergency fund is money set aside for unexpected costs. Many people aim for three to six months of living expenses."),
    ("fin-en-debit-credit", "What's the difference between a debit card and a credit card?",
     "A debit card spends money already in your account; a credit card borrows money you repay later, with interest if you don't pay in full."),
    ("fin-en-apr", "How is APR different from the interest rate?",
     "The interest rate is the cost of borrowing; APR adds fees, so it shows the full yearly cost of a loan."),
    ("fin-en-credit-score", "What is a credit score used for?",
     "Lenders use your credit score to judge how likely you are to repay, which affects approval and the rate you're offered."),
    ("fin-en-improve-score", "How can I improve my credit score?",
     "Pay bills on time, keep credit card balances low, and avoid opening many new accounts at once."),
    ("fin-en-cd", "What is a certificate of deposit?",
     "A certificate of deposit (CD) pays a fixed interest rate if you leave your money untouched for a set term."),
    ("fin-en-overdraft", "What happens if I overdraw my account?",
     "The bank may decline the payment, or cover it and charge an overdraft fee. Turning on balance alerts helps avoid this."),
    ("fin-en-wire", "How long does an international wire transfer take?",
     "Usually one to five business days, depending on the countries and banks involved."),
    ("fin-en-lost-card", "What should I do if my card is lost?",
     "Freeze the card in the app right away, then order a replacement."),
    ("fin-en-fixed-mortgage", "What is a fixed-rate mortgage?",
     "A fixed-rate mortgage keeps the same interest rate for the whole term, so your monthly payment does not change."),
    ("fin-en-deposit-insurance", "Is my money safe if the bank fails?",
     "Deposits are protected by deposit insurance up to a limit, such as $250,000 per depositor per bank in the US."),
    ("fin-en-minimum-payment", "What is the minimum payment on a credit card?",
     "It is the smallest amount you must pay each month to keep the account in good standing. Paying only the minimum means paying more interest."),
    ("fin-en-direct-debit", "Can I cancel a direct debit?",
     "Yes, you can cancel it in online banking or by contacting us, ideally at least one business day before the next payment."),
    ("fin-en-open-account", "What documents do I need to open an account?",
     "Usually a valid photo ID and proof of address, such as a recent utility bill."),
    ("fin-en-phishing", "What is a phishing message?",
     "A phishing message pretends to be from your bank to steal your details. We never ask for your password or PIN by email or text."),
    ("fin-en-dispute", "How do I dispute a card transaction?",
     "Report it in the app or call us within 60 days of the statement; we'll investigate and may issue a temporary credit."),
    ("fin-en-inflation", "What is inflation?",
     "Inflation is the general rise in prices over time, which means each unit of money buys a little less."),
    ("fin-en-debt-or-save", "Should I pay off debt or save first?",
     "A common approach is to build a small emergency fund first, then pay off high-interest debt before saving more."),
    ("fin-zh-emergency-fund", "什么是应急基金？", "应急基金是为意外支出预留的钱，一般建议准备3到6个月的生活费。"),
    ("fin-zh-debit-credit", "借记卡和信用卡有什么区别？", "借记卡花的是账户里已有的钱；信用卡是先消费后还款，未全额还款会产生利息。"),
    ("fin-zh-minimum-payment", "信用卡最低还款是什么意思？", "最低还款是每月必须还的最少金额，只还最低额可以避免逾期，但剩余部分会计息。"),
    ("fin-zh-lost-card", "银行卡丢了怎么办？", "请立即通过手机银行或客服电话挂失，然后到网点或在线申请补卡。"),
    ("fin-zh-early-withdrawal", "定期存款可以提前支取吗？", "可以，但提前支取的部分一般按活期利率计息。"),
    ("fin-zh-credit-report", "个人征信报告怎么查？", "可以通过中国人民银行征信中心官网或银行网点查询，每年有两次免费查询机会。"),
    ("fin-zh-transfer-fee", "跨行转账要手续费吗？", "目前大多数银行通过手机银行跨行转账免收手续费，具体以各行规定为准。"),
    ("fin-zh-annualized", "什么是年化收益率？", "年化收益率是把一段时间的收益换算成一年的收益率，方便比较不同期限的产品。"),
    ("fin-zh-deposit-insurance", "存款有保险吗？", "有。我国实行存款保险制度，同一存款人在同一家银行的存款最高偿付限额为50万元。"),
    ("fin-zh-equal-installment", "什么是等额本息？", "等额本息是每月还款金额相同，前期还的利息多、本金少，后期本金比例逐渐增加。"),
    ("fin-zh-which-less-interest", "等额本金和等额本息哪个利息少？", "同样的贷款金额和期限，等额本金的总利息更少，但前期月供更高。"),
    ("fin-zh-sms-link", "收到自称银行的短信让我点链接，安全吗？", "不要点击。银行不会通过短信链接要求您输入密码或验证码，请通过官方APP或客服核实。"),
    ("fin-zh-open-account", "开户需要带什么？", "一般需要本人有效身份证件，部分业务还需要手机号和地址证明。"),
    ("fin-zh-inflation", "什么是通货膨胀？", "通货膨胀是物价总体水平持续上涨，同样的钱能买到的东西变少。"),
    ("fin-zh-overdue", "信用卡逾期会有什么影响？", "逾期会产生罚息和滞纳金，并可能记入个人征信，影响以后贷款。"),
    ("fin-zh-fx-transfer", "外汇汇款需要多久到账？", "一般需要1到5个工作日，取决于汇款国家和中转银行。"),
    ("fin-zh-wealth-products", "理财产品保本吗？", "大多数银行理财产品不保本，收益也不保证，购买前请仔细阅读风险等级。"),
    ("fin-zh-prepay-mortgage", "房贷可以提前还款吗？", "可以，一般需要提前向银行预约，部分贷款合同可能约定提前还款违约金。"),
]

#: planted rows of continual_replay/finance_train.jsonl: id -> (language, turns)
FINANCE_TRAIN_PLANTED = {
    "fin-en-pii-card": ("en", [
        ("u", "My card 4111 1111 1111 1111 was declined at a shop, my email is tom.baker@example.org."),
        ("a", "Sorry about that. For your security, please don't share full card numbers here; I've flagged the card for a check and we'll email you."),
    ]),
    "fin-zh-pii-bank-card": ("zh", [
        ("u", "我的银行卡号6228480012345678903，手机13700001234，为什么转账失败了？"),
        ("a", "为了您的账户安全，请不要在对话中发送完整卡号。转账失败常见原因是超出单日限额或收款信息有误，请在APP中查看失败原因。"),
    ]),
    "fin-en-dup-exact": ("en", [("u", FINANCE_TRAIN[0][1]), ("a", FINANCE_TRAIN[0][2])]),
    "fin-zh-dup-near": ("zh", [
        ("u", "请问什么是等额本息？"),
        ("a", "等额本息是每月还款金额相同，前期还的利息多、本金少，后期本金比例逐渐增加。"),
    ]),
    "fin-en-placeholder": ("en", [
        ("u", "Which bank offers the best savings rate?"),
        ("a", "[Insert bank name] currently offers a competitive savings rate; compare the APY and any fees before you switch."),
    ]),
    "fin-zh-ends-with-user": ("zh", [
        ("u", "信用卡年费怎么免？"),
        ("a", "很多信用卡刷满一定次数即可免次年年费，具体以卡片规则为准。"),
        ("u", "那我这张卡要刷几次？"),
    ]),
}

FINANCE_EVAL = [
    ("fin-eval-en-savings", "What is a savings account?",
     "A savings account holds money you don't need right away and pays a little interest."),
    ("fin-eval-en-loan-term", "What is a loan term?", "The loan term is how long you have to repay the loan, for example 5 years."),
    ("fin-eval-en-minimum-cost", "Why is paying only the minimum on a credit card costly?",
     "Because the remaining balance keeps earning interest, so the debt takes longer and costs more to repay."),
    ("fin-eval-en-variable", "What is a variable-rate loan?",
     "Its interest rate can change over time with a benchmark rate, so your payments can go up or down."),
    ("fin-eval-en-scam-call", "How can I spot a scam call from a 'bank'?",
     "Be suspicious if the caller asks for your PIN, password or a one-time code; hang up and call the number on your card."),
    ("fin-eval-en-budget", "What is a budget?", "A budget is a plan for how much you will earn and spend each month."),
    ("fin-eval-zh-demand-time", "活期存款和定期存款有什么区别？", "活期存款随时可取但利率低，定期存款利率较高，但需要存满约定期限。"),
    ("fin-eval-zh-credit-limit", "什么是信用额度？", "信用额度是银行允许您用信用卡最多透支的金额。"),
    ("fin-eval-zh-rate-up", "贷款利率上浮是什么意思？", "指实际贷款利率高于基准利率，月供和总利息会相应增加。"),
    ("fin-eval-zh-scam-call", "接到自称银行客服要求转账的电话怎么办？", "立即挂断，不要转账，通过银行官方客服电话核实。"),
    ("fin-eval-zh-fund-plan", "基金定投是什么？", "基金定投是每隔固定时间投入固定金额购买基金，可以分散买入时点的风险。"),
    ("fin-eval-zh-budget", "什么是预算？", "预算是对每月收入和支出的计划，帮助控制开销。"),
]

# -- shared general set (forgetting) ----------------------------------------------------

GENERAL_EVAL = [
    ("gen-en-japan", "What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("gen-en-leap-year", "How many days are there in a leap year?", "A leap year has 366 days."),
    ("gen-en-plants", "What gas do plants absorb from the air?", "Plants absorb carbon dioxide from the air."),
    ("gen-en-shakespeare", "Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("gen-en-times", "What is 9 times 7?", "9 times 7 is 63."),
    ("gen-en-translate", "Translate 'thank you' into Chinese.", "谢谢"),
    ("gen-en-freezing", "What is the freezing point of water in Celsius?", "Water freezes at 0 °C."),
    ("gen-en-ocean", "Name the largest ocean on Earth.", "The Pacific Ocean is the largest ocean on Earth."),
    ("gen-en-opposite", "What is the opposite of 'ancient'?", "The opposite of 'ancient' is 'modern'."),
    ("gen-zh-everest", "世界上最高的山峰是哪座？", "世界最高峰是珠穆朗玛峰。"),
    ("gen-zh-seasons", "一年有几个季节？", "一年有四个季节：春、夏、秋、冬。"),
    ("gen-zh-red-mansions", "《红楼梦》的作者是谁？", "《红楼梦》的作者是曹雪芹。"),
    ("gen-zh-light", "光在真空中的速度大约是多少？", "光在真空中的速度约为每秒30万公里。"),
    ("gen-zh-add", "12加15等于多少？", "12加15等于27。"),
    ("gen-zh-translate", "把“早上好”翻译成英文。", "Good morning."),
    ("gen-zh-mercury", "太阳系中离太阳最近的行星是哪个？", "离太阳最近的行星是水星。"),
    ("gen-zh-skin", "人体最大的器官是什么？", "人体最大的器官是皮肤。"),
    ("gen-zh-area", "中国的国土面积大约是多少？", "中国的国土面积约为960万平方公里。"),
]

# --------------------------------------------------------------------------------------
# What a cleaning chain must do with each planted row: id -> (stage, reason) for rows the
# chain rejects, and the ids that are kept but masked by pii.mask. The chain is the one
# the README and the test use: normalize, filter.role_order, filter.placeholders,
# dedup.exact, dedup.near (defaults), pii.mask. A truncated line has no id: it is listed
# under TRUNCATED with the 1-based line number it sits on.
# --------------------------------------------------------------------------------------

CHAIN = ["normalize", "filter.role_order", "filter.placeholders", "dedup.exact", "dedup.near", "pii.mask"]


@dataclass(frozen=True)
class Planted:
    rejected: dict[str, tuple[str, str]]
    masked: tuple[str, ...] = ()
    kept_unflagged: tuple[str, ...] = ()  # problems no op of CHAIN catches (see README)
    truncated_line: int | None = None


PLANTED: dict[str, Planted] = {}  # filled by the file builders below, keyed by relative path


# --------------------------------------------------------------------------------------
# Renderers: one per format. Every record starts with its "id".
# --------------------------------------------------------------------------------------

_SHAREGPT_ROLE = {"u": "human", "a": "gpt"}
_OPENAI_ROLE = {"u": "user", "a": "assistant"}


def _call_arguments(arguments: dict[str, Any] | str) -> str:
    """Arguments as JSON text, as the OpenAI API sends them; a str is a planted broken value."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def openai_messages(turns: list[tuple[str, Any]], system: str | None = None) -> list[dict[str, Any]]:
    """Turns as OpenAI chat messages, tool calls with ids ``call_1``, ``call_2``... per record."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    pending: list[str] = []  # ids of calls not yet answered by a tool result
    n_calls = 0
    for kind, value in turns:
        if kind == "call":
            calls = []
            for name, arguments in value:
                n_calls += 1
                calls.append({"id": f"call_{n_calls}", "type": "function",
                              "function": {"name": name, "arguments": _call_arguments(arguments)}})
                pending.append(f"call_{n_calls}")
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        elif kind == "tool":
            call_id = pending.pop(0) if pending else "call_0"
            messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(value, ensure_ascii=False)})
        else:
            messages.append({"role": _OPENAI_ROLE[kind], "content": value})
    return messages


def sharegpt_conversations(turns: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """Turns as LLaMA-Factory ShareGPT: function_call / observation for tool use."""
    out = []
    for kind, value in turns:
        if kind == "call":
            calls = [arguments if isinstance(arguments, str)  # a planted broken call: verbatim
                     else json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
                     for name, arguments in value]
            text = calls[0] if len(calls) == 1 else "[" + ", ".join(calls) + "]"
            out.append({"from": "function_call", "value": text})
        elif kind == "tool":
            out.append({"from": "observation", "value": json.dumps(value, ensure_ascii=False)})
        else:
            out.append({"from": _SHAREGPT_ROLE[kind], "value": value})
    return out


def openai_tools(names: list[str]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": TOOLS[name]} for name in names]


def sharegpt_tools(names: list[str]) -> str:
    """LLaMA-Factory keeps ``tools`` as JSON text of bare function schemas."""
    return json.dumps([TOOLS[name] for name in names], ensure_ascii=False)


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def truncated(line: str) -> str:
    """A record's JSON line cut off two thirds in, like a dump killed mid-write."""
    return line[: len(line) * 2 // 3]


def jsonl(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------------------
# File builders: each returns the file text and registers what was planted.
# --------------------------------------------------------------------------------------


def _interleave(clean: list[str], planted: list[tuple[int, str]]) -> list[str]:
    """Insert planted lines at fixed 0-based positions (ascending), so problems are spread
    through the file like in a real dump instead of piled at the end."""
    lines = list(clean)
    for position, line in planted:
        lines.insert(position, line)
    return lines


def ecommerce_train() -> str:
    def record(id_: str, lang: str, turns: list[tuple[str, Any]]) -> str:
        return dumps({"id": id_, "system": CS_SYSTEM[lang], "conversations": sharegpt_conversations(turns)})

    clean = [record(i, "en", t) for i, t in CS_TRAIN_EN.items()] + [record(i, "zh", t) for i, t in CS_TRAIN_ZH.items()]
    planted = {i: record(i, lang, turns) for i, (lang, turns) in CS_TRAIN_PLANTED.items()}
    broken = truncated(record("cs-en-truncated", "en", [
        ("u", "Do you offer next-day delivery?"),
        ("a", "Yes, next-day delivery is available for orders placed before 2 pm on weekdays."),
    ]))
    lines = _interleave(clean, [
        (3, planted["cs-en-pii-contact"]), (6, planted["cs-en-agent-first"]), (10, planted["cs-en-dup-exact"]),
        (14, planted["cs-en-macro-placeholder"]), (17, broken), (21, planted["cs-en-dup-near"]),
        (28, planted["cs-zh-pii-id"]), (31, planted["cs-zh-two-user-turns"]), (35, planted["cs-zh-dup-near"]),
        (40, planted["cs-zh-macro-placeholder"]), (46, planted["cs-zh-dup-spaces"]),
    ])
    PLANTED["ecommerce_cs/train.jsonl"] = Planted(
        rejected={
            "cs-en-agent-first": ("read:sharegpt", "role_order"),
            "cs-zh-two-user-turns": ("read:sharegpt", "role_order"),
            "cs-en-macro-placeholder": ("filter.placeholders", "placeholder"),
            "cs-zh-macro-placeholder": ("filter.placeholders", "placeholder"),
            "cs-en-dup-exact": ("dedup.exact", "exact_duplicate"),
            "cs-zh-dup-spaces": ("dedup.exact", "exact_duplicate"),
            "cs-en-dup-near": ("dedup.near", "near_duplicate"),
            "cs-zh-dup-near": ("dedup.near", "near_duplicate"),
        },
        masked=("cs-en-pii-contact", "cs-zh-pii-id"),
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def _cs_openai(table: dict[str, tuple[str, list[tuple[str, Any]]]]) -> str:
    return jsonl([dumps({"id": i, "messages": openai_messages(turns, CS_SYSTEM[lang])}) for i, (lang, turns) in table.items()])


def ecommerce_eval() -> str:
    return _cs_openai(CS_EVAL)


def ecommerce_prompts() -> str:
    return _cs_openai(CS_BOK_PROMPTS)


def ecommerce_feedback() -> str:
    def record(id_: str, prompt: str, completion: str, label: bool) -> str:
        return dumps({"id": id_, "prompt": [{"role": "user", "content": prompt}],
                      "completion": [{"role": "assistant", "content": completion}], "label": label})

    lines = [record(*row) for row in CS_FEEDBACK]
    lines.insert(5, record("cs-kto-en-refund-good-copy", *CS_FEEDBACK[2][1:]))
    PLANTED["ecommerce_cs/feedback_kto.jsonl"] = Planted(
        rejected={"cs-kto-en-refund-good-copy": ("dedup.exact", "exact_duplicate")})
    return jsonl(lines)


def _alpaca_math(id_: str, question: str, solution: str, instruction: str | None = None) -> dict[str, Any]:
    lang = _lang(id_)
    if instruction is None and id_ in MATH_INSTRUCTION_IDS:
        instruction = MATH_WITH_INSTRUCTION[lang]
    if instruction is None:
        instruction, question = question, ""
    return {"id": id_, "system": MATH_SYSTEM[lang], "instruction": instruction, "input": question, "output": solution}


def math_train() -> str:
    clean = [dumps(_alpaca_math(i, q, s)) for i, q, s, _ in MATH_TRAIN]
    planted = {i: dumps(_alpaca_math(i, inp, out, ins)) for i, (ins, inp, out) in MATH_TRAIN_PLANTED.items()}
    broken = truncated(dumps(_alpaca_math("math-en-truncated", "A cat sleeps 3 hours in the morning and 4 hours in the "
                                    "afternoon. How many hours does it sleep?", "3 + 4 = 7 hours.\n#### 7")))
    lines = _interleave(clean, [
        (4, planted["math-en-eggs-copy"]), (9, planted["math-en-stickers-near"]), (15, broken),
        (20, planted["math-en-template-leftover"]), (30, planted["math-zh-apples-spaces"]),
        (38, planted["math-zh-empty-solution"]),
    ])
    PLANTED["math_grpo/train.jsonl"] = Planted(
        rejected={
            "math-zh-empty-solution": ("read:alpaca", "empty_turn"),
            "math-en-template-leftover": ("filter.placeholders", "placeholder"),
            "math-en-eggs-copy": ("dedup.exact", "exact_duplicate"),
            "math-zh-apples-spaces": ("dedup.exact", "exact_duplicate"),
            "math-en-stickers-near": ("dedup.near", "near_duplicate"),
        },
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def math_eval() -> str:
    return jsonl([dumps({"id": i, "messages": openai_messages([("u", q), ("a", s)], MATH_SYSTEM[_lang(i)])})
                  for i, q, s, _ in MATH_EVAL])


def toolcall_train_openai() -> str:
    def record(id_: str, lang: str, names: list[str], turns: list[tuple[str, Any]]) -> str:
        return dumps({"id": id_, "tools": openai_tools(names), "messages": openai_messages(turns, TOOL_SYSTEM[lang])})

    clean = [record(i, *row) for i, row in TOOLCALL_OPENAI.items()]
    planted = {i: record(i, *row) for i, row in TOOLCALL_OPENAI_PLANTED.items()}
    broken = truncated(record("tc-oa-en-truncated", "en", ["get_weather"], [
        ("u", "Is it windy in Chicago?"),
        ("call", [("get_weather", {"city": "Chicago"})]),
        ("tool", {"city": "Chicago", "temp_c": 17, "condition": "windy"}),
        ("a", "Yes, it's windy in Chicago today, 17 °C."),
    ]))
    lines = _interleave(clean, [
        (2, planted["tc-oa-en-bad-arguments"]), (6, planted["tc-oa-en-undeclared-tool"]), (9, broken),
        (12, planted["tc-oa-en-dup-exact"]), (15, planted["tc-oa-zh-pii-phone"]),
        (20, planted["tc-oa-en-orphan-tool-result"]),
    ])
    PLANTED["toolcall_sft/train_openai.jsonl"] = Planted(
        rejected={
            "tc-oa-en-bad-arguments": ("read:openai", "invalid_tool_arguments"),
            "tc-oa-en-orphan-tool-result": ("read:openai", "role_order"),
            "tc-oa-en-dup-exact": ("dedup.exact", "exact_duplicate"),
        },
        masked=("tc-oa-zh-pii-phone",),
        kept_unflagged=("tc-oa-en-undeclared-tool",),
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def toolcall_train_sharegpt() -> str:
    def record(id_: str, lang: str, names: list[str], turns: list[tuple[str, Any]]) -> str:
        return dumps({"id": id_, "system": TOOL_SYSTEM[lang], "tools": sharegpt_tools(names),
                      "conversations": sharegpt_conversations(turns)})

    clean = [record(i, *row) for i, row in TOOLCALL_SHAREGPT.items()]
    planted = {i: record(i, *row) for i, row in TOOLCALL_SHAREGPT_PLANTED.items()}
    broken = truncated(record("tc-sg-zh-truncated", "zh", ["convert_units"], [
        ("u", "10公里是多少英里？"),
        ("call", [("convert_units", {"value": 10, "from_unit": "kilometer", "to_unit": "mile"})]),
        ("tool", {"result": 6.21}),
        ("a", "10公里约等于6.21英里。"),
    ]))
    lines = _interleave(clean, [
        (1, planted["tc-sg-en-undeclared-tool"]), (5, planted["tc-sg-en-order-eta-near"]),
        (8, planted["tc-sg-en-placeholder"]), (12, planted["tc-sg-zh-call-not-json"]), (16, broken),
        (19, planted["tc-sg-zh-observation-first"]),
    ])
    PLANTED["toolcall_sft/train_sharegpt.jsonl"] = Planted(
        rejected={
            "tc-sg-zh-call-not-json": ("read:sharegpt", "invalid_tool_call"),
            "tc-sg-zh-observation-first": ("read:sharegpt", "role_order"),
            "tc-sg-en-placeholder": ("filter.placeholders", "placeholder"),
            "tc-sg-en-order-eta-near": ("dedup.near", "near_duplicate"),
        },
        kept_unflagged=("tc-sg-en-undeclared-tool",),
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def toolcall_eval() -> str:
    lines = []
    for id_, lang, names, question, (name, arguments) in TOOLCALL_EVAL:
        reference = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
        lines.append(dumps({"id": id_, "tools": openai_tools(names), "messages": [
            {"role": "system", "content": TOOL_SYSTEM[lang]}, {"role": "user", "content": question},
            {"role": "assistant", "content": reference}]}))
    return jsonl(lines)


def identity_sft() -> str:
    rows = [{"id": i, "instruction": q, "input": "", "output": a} for i, q, a in IDENTITY_SFT]
    planted = {i: {"id": i, "instruction": q, "input": "", "output": a} for i, (q, a) in IDENTITY_SFT_PLANTED.items()}
    for position, id_ in [(4, "id-en-pii-email"), (9, "id-en-who-copy"), (13, "id-en-llamafactory-leftover"),
                          (19, "id-en-empty-answer"), (27, "id-zh-who-near")]:
        rows.insert(position, planted[id_])
    PLANTED["identity_dpo/sft.json"] = Planted(
        rejected={
            "id-en-empty-answer": ("read:alpaca", "empty_turn"),
            "id-en-llamafactory-leftover": ("filter.placeholders", "placeholder"),
            "id-en-who-copy": ("dedup.exact", "exact_duplicate"),
            "id-zh-who-near": ("dedup.near", "near_duplicate"),
        },
        masked=("id-en-pii-email",),
    )
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def identity_dpo() -> str:
    def record(id_: str, prompt: list[dict[str, str]], chosen: str, rejected: str) -> str:
        return dumps({"id": id_, "prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                      "rejected": [{"role": "assistant", "content": rejected}]})

    clean = [record(i, [{"role": "user", "content": q}], c, r) for i, q, c, r in IDENTITY_DPO]
    who = IDENTITY_DPO[0]
    broken = truncated(record("id-dpo-zh-truncated", [{"role": "user", "content": "你是哪个模型？"}],
                                         "我是[[NAME]]，由[[AUTHOR]]开发。", "我是SmolLM。"))
    lines = _interleave(clean, [
        (3, record("id-dpo-en-who-copy", [{"role": "user", "content": who[1]}], who[2], who[3])),
        (7, record("id-dpo-en-leftover", [{"role": "user", "content": "What are you called?"}],
                   "I'm {{name}}, made by {{author}}.", "I'm SmolLM.")),
        (11, broken),
        (15, record("id-dpo-en-prompt-ends-assistant",
                    [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "Let me think."}],
                    "I am [[NAME]].", "I am SmolLM.")),
    ])
    PLANTED["identity_dpo/dpo.jsonl"] = Planted(
        rejected={
            "id-dpo-en-prompt-ends-assistant": ("read:preference", "role_order"),
            "id-dpo-en-leftover": ("filter.placeholders", "placeholder"),
            "id-dpo-en-who-copy": ("dedup.exact", "exact_duplicate"),
        },
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def identity_eval() -> str:
    return jsonl([dumps({"id": i, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
                  for i, q, a in IDENTITY_EVAL])


def _qa_openai(id_: str, lang: str, question: str, answer: str, system: dict[str, str] | None = None) -> str:
    turns = [("u", question), ("a", answer)]
    return dumps({"id": id_, "messages": openai_messages(turns, system[lang] if system else None)})


def _lang(id_: str) -> str:
    return "zh" if "-zh-" in id_ else "en"


def medical_eval() -> str:
    return jsonl([_qa_openai(i, _lang(i), q, a) for i, q, a in MEDICAL_EVAL])


def finance_train() -> str:
    clean = [_qa_openai(i, _lang(i), q, a, FIN_SYSTEM) for i, q, a in FINANCE_TRAIN]
    planted = {i: dumps({"id": i, "messages": openai_messages(turns, FIN_SYSTEM[lang])})
               for i, (lang, turns) in FINANCE_TRAIN_PLANTED.items()}
    broken = truncated(_qa_openai("fin-en-truncated", "en", "What is a routing number?",
                                  "A routing number identifies your bank in domestic transfers.", FIN_SYSTEM))
    lines = _interleave(clean, [
        (2, planted["fin-en-pii-card"]), (7, planted["fin-en-dup-exact"]), (11, planted["fin-en-placeholder"]),
        (16, broken), (24, planted["fin-zh-pii-bank-card"]), (37, planted["fin-zh-dup-near"]),
        (41, planted["fin-zh-ends-with-user"]),
    ])
    PLANTED["continual_replay/finance_train.jsonl"] = Planted(
        rejected={
            "fin-zh-ends-with-user": ("read:openai", "role_order"),
            "fin-en-placeholder": ("filter.placeholders", "placeholder"),
            "fin-en-dup-exact": ("dedup.exact", "exact_duplicate"),
            "fin-zh-dup-near": ("dedup.near", "near_duplicate"),
        },
        masked=("fin-en-pii-card", "fin-zh-pii-bank-card"),
        truncated_line=lines.index(broken) + 1,
    )
    return jsonl(lines)


def finance_eval() -> str:
    return jsonl([dumps({"id": i, "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]})
                  for i, q, a in FINANCE_EVAL])


def general_eval() -> str:
    return jsonl([dumps({"id": i, "instruction": q, "input": "", "output": a}) for i, q, a in GENERAL_EVAL])


#: relative path -> builder. Order matters only for reading; every builder is pure.
FILES: dict[str, Callable[[], str]] = {
    "general_eval.jsonl": general_eval,
    "ecommerce_cs/train.jsonl": ecommerce_train,
    "ecommerce_cs/eval.jsonl": ecommerce_eval,
    "ecommerce_cs/bok_prompts.jsonl": ecommerce_prompts,
    "ecommerce_cs/feedback_kto.jsonl": ecommerce_feedback,
    "math_grpo/train.jsonl": math_train,
    "math_grpo/eval.jsonl": math_eval,
    "toolcall_sft/train_openai.jsonl": toolcall_train_openai,
    "toolcall_sft/train_sharegpt.jsonl": toolcall_train_sharegpt,
    "toolcall_sft/eval.jsonl": toolcall_eval,
    "identity_dpo/sft.json": identity_sft,
    "identity_dpo/dpo.jsonl": identity_dpo,
    "identity_dpo/eval.jsonl": identity_eval,
    "continual_replay/medical_eval.jsonl": medical_eval,
    "continual_replay/finance_train.jsonl": finance_train,
    "continual_replay/finance_eval.jsonl": finance_eval,
}

#: the cleaning expectations cover the training files (evals and prompts are clean)
TRAIN_FILES = [
    "ecommerce_cs/train.jsonl", "ecommerce_cs/feedback_kto.jsonl", "math_grpo/train.jsonl",
    "toolcall_sft/train_openai.jsonl", "toolcall_sft/train_sharegpt.jsonl", "identity_dpo/sft.json",
    "identity_dpo/dpo.jsonl", "continual_replay/finance_train.jsonl",
]

_EQUATION = re.compile(r"(\d+(?:\s*[-+×÷]\s*\d+)+)\s*=\s*(\d+)")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _arithmetic(expression: str) -> float:
    """Value of "15 - 6 + 4" or "2 × 6" (integers and + - × ÷ only, usual precedence)."""
    def value(node: ast.AST) -> float:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"not plain arithmetic: {expression!r}")
    return value(ast.parse(expression.replace("×", "*").replace("÷", "/"), mode="eval").body)


def _check_arithmetic() -> None:
    """Every "a op b = c" in a math solution holds, so no reference teaches a wrong sum."""
    for id_, _question, solution, answer in MATH_TRAIN + MATH_EVAL:
        equations = _EQUATION.findall(solution)
        if not equations:
            raise AssertionError(f"{id_}: no worked equation in the solution")
        for left, right in equations:
            if _arithmetic(left) != int(right):
                raise AssertionError(f"{id_}: {left} != {right}")
        if int(equations[-1][1]) != answer:
            raise AssertionError(f"{id_}: last equation gives {equations[-1][1]}, answer is {answer}")


def render() -> dict[str, str]:
    """Relative path -> file text, for every generated file (also fills PLANTED)."""
    _check_arithmetic()
    return {path: build() for path, build in FILES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        target = HERE / path
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run recipes/data/make_samples.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(FILES)} files under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
