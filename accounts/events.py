"""Behaviour events the accounts app emits."""
from core.events import Actor, declare

USER_REGISTERED = declare("user_registered", meaning="a new shopper account was created at first login",
                          actor=Actor.USER)
USER_LOGGED_IN = declare("user_logged_in", meaning="a user logged in", fields={"method": str}, actor=Actor.USER)
PROFILE_UPDATED = declare("profile_updated", meaning="a user changed their nickname or avatar",
                          fields={"fields": list}, actor=Actor.USER)
