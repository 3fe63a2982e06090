from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from engagement import api

urlpatterns = [
    path("engagement/accounts", api.MyAccountsApi.as_view()),
    path("engagement/entries", api.MyEntryListApi.as_view()),
    path("engagement/check-ins", api.CheckInApi.as_view()),
    path("engagement/tasks", api.TaskListApi.as_view()),
    path("engagement/onboarding", api.OnboardingApi.as_view()),
    path("engagement/levels", api.LevelListApi.as_view()),
    path("engagement/rewards", api.RewardListApi.as_view()),
    path("engagement/rewards/<id:reward_id>/redeem", api.RewardRedeemApi.as_view()),
    path("engagement/redemptions", api.MyRedemptionListApi.as_view()),
]
