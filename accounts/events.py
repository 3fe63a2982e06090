"""Behaviour events the accounts app emits."""
from core.events import Actor, declare

USER_REGISTERED = declare("user_registered", meaning="a new shopper account was created at first login",
                          actor=Actor.USER)
USER_LOGGED_IN = declare("user_logged_in", meaning="a user logged in", fields={"method": str}, actor=Actor.USER)
PROFILE_UPDATED = declare("profile_updated", meaning="a user changed their nickname or avatar",
                          fields={"fields": list}, actor=Actor.USER)
AUTH_SESSION_REVOKED = declare("auth_session_revoked",
                               meaning="a login session ended before its time: logout, logout everywhere, an operator, "
                                       "or its refresh token used twice (reason)",
                               fields={"reason": str}, actor=Actor.USER)
PHONE_BOUND = declare("phone_bound", meaning="a user authorised a phone number through WeChat and it became theirs",
                      fields={"method": str, "replaced": bool}, actor=Actor.USER)
WECHAT_BOUND = declare("wechat_bound", meaning="a WeChat identity (openid) was bound to a user at WeChat login",
                       fields={"appid": str, "by_unionid": bool}, actor=Actor.USER)
