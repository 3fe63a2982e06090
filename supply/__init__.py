"""S side: suppliers, products, SKUs, stock, regional pricing, shipping templates, inventory sync, replenishment."""
