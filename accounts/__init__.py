"""Users and their roles, phone + one-time-code login for the mini-program client, operator login to /admin/."""
