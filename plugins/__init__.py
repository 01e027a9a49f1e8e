"""Publishing engine for the regional federations of multi-professional health centres."""
