"""Participation: points ledger, task rules, rewards, levels, UGC and moderation, RFM seed users, campaigns."""
