"""AI business cards: cards, share chains, visits, leads, radar, intent scores, referrals, commission, share graph."""
