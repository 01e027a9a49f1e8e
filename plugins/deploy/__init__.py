"""Members' accounts and the web server configuration that guards the members' site."""
