"""Organizations, the people in them, and the credentials that act for them."""
