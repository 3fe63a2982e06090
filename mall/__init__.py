"""B and C side: stores, listings, cart, orders, payments, coupons, group-buys, bargains, after-sales."""
