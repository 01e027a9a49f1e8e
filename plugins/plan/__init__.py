"""What one site (public or members') is made of, independent of the site generator."""
