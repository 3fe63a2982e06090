"""The built-in tasks of the seed articles (签到、完善资料、首单、分享名片、邀请好友、名片能量值, and the review, UGC post
and challenge templates that wait for their events), the onboarding checklist (新手引导) and four member levels.
Operators change or switch them off in the admin; rows that exist already (by code or rank) are left alone."""
from decimal import Decimal

from django.db import migrations

ONBOARDING = {"code": "onboarding", "name": "新手引导 Onboarding", "position": 0,
              "description": "完成这几件事, 快速上手 a few first steps"}

RULES = [
    # code, name, trigger, currency, fixed amount, per yuan, period, times per period, in onboarding, active, extra
    ("welcome", "注册有礼 Welcome gift", "registered", "points", 100, 0, "once", 1, False, True, {}),
    ("daily_check_in", "每日签到 Daily check-in", "checked_in", "points", 5, 0, "daily", 1, True, True,
     {"streak_rewards": "5,5,10,10,15,15,30", "streak_reset": "weekly",
      "description": "连续签到奖励递增, 每周一重置 more for each day in a row, starting again every Monday"}),
    ("complete_profile", "完善资料 Complete your profile", "profile_completed", "points", 50, 0, "once", 1, True, True,
     {"description": "设置昵称和头像 set a nickname and an avatar"}),
    ("first_order", "首单奖励 First order", "order_paid", "points", 200, 0, "once", 1, True, True,
     {"condition": "first_time"}),
    ("shopping_points", "购物积分 Points for shopping", "order_paid", "points", 0, 1, "per_subject", 1, False, True,
     {"description": "每消费 1 元得 1 积分 1 point per yuan paid"}),
    ("shopping_experience", "购物成长值 Experience for shopping", "order_paid", "experience", 0, 1, "per_subject", 1,
     False, True, {"description": "每消费 1 元得 1 经验 1 experience per yuan paid"}),
    ("share_card", "分享名片 Share a business card", "card_shared", "points", 5, 0, "daily", 3, True, True,
     {"description": "每天前 3 次分享有奖励 the first three shares a day"}),
    ("invite_registered", "邀请好友注册 Invite a friend who registers", "friend_registered", "points", 100, 0,
     "per_subject", 1, False, True, {}),
    ("invite_ordered", "邀请好友下单 Invite a friend who orders", "friend_ordered", "points", 300, 0, "per_subject", 1,
     False, True, {"description": "好友首单支付后发放, 好友退款则收回 on the friend's first paid order; taken back "
                                  "if it is refunded"}),
    ("energy_visitor", "名片带来访客 Energy: a share brought a visitor", "share_brought_visitor", "energy", 1, 0,
     "per_subject", 1, False, True, {}),
    ("energy_lead", "名片带来线索 Energy: a share brought a lead", "share_brought_lead", "energy", 5, 0, "per_subject",
     1, False, True, {}),
    ("energy_order", "名片带来成交 Energy: a share brought an order", "share_brought_order", "energy", 20, 0,
     "per_subject", 1, False, True, {}),
    ("review_with_text", "图文评价 Review with text", "review_posted", "points", 20, 0, "per_subject", 1, False, False,
     {"condition": "text_at_least", "condition_value": Decimal("15"),
      "description": "等评价功能上线后启用 switch on once reviews exist (event order_reviewed)"}),
    ("ugc_post", "发布种草内容 Publish a post", "post_approved", "points", 10, 0, "daily", 3, False, False,
     {"condition": "text_at_least", "condition_value": Decimal("10"),
      "description": "审核通过后发放; 等种草功能上线后启用 on approval; switch on once UGC exists (post_approved)"}),
    ("join_challenge", "参加挑战赛 Join a challenge", "challenge_joined", "points", 20, 0, "per_subject", 1, False,
     False, {"description": "等挑战赛上线后启用 switch on once challenges exist (challenge_joined)"}),
]

LEVELS = [
    (1, "普通会员 Member", 0, 0, False, "注册即享 from the first experience"),
    (2, "银卡会员 Silver", 1000, 2, False, "商品 98 折 2% off the goods"),
    (3, "金卡会员 Gold", 5000, 5, True, "商品 95 折, 包邮 5% off the goods, free shipping"),
    (4, "钻石会员 Diamond", 20000, 10, True, "商品 9 折, 包邮 10% off the goods, free shipping"),
]


def install(apps, schema_editor):
    TaskGroup = apps.get_model("engagement", "TaskGroup")
    TaskRule = apps.get_model("engagement", "TaskRule")
    MemberLevel = apps.get_model("engagement", "MemberLevel")
    group, _created = TaskGroup.objects.get_or_create(code=ONBOARDING["code"], defaults=ONBOARDING)
    for position, (code, name, trigger, currency, amount, per_yuan, period, times, onboarding, active,
                   extra) in enumerate(RULES):
        TaskRule.objects.get_or_create(code=code, defaults={
            "name": name, "trigger": trigger, "currency": currency, "reward_amount": amount,
            "reward_per_yuan": Decimal(per_yuan), "period": period, "max_per_period": times,
            "group": group if onboarding else None, "is_active": active, "position": position * 10, **extra})
    for rank, name, experience, discount, free_shipping, description in LEVELS:
        if not MemberLevel.objects.filter(rank=rank).exists():
            MemberLevel.objects.create(rank=rank, name=name, min_experience=experience, discount_percent=discount,
                                       free_shipping=free_shipping, description=description)


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_participation_engine")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
