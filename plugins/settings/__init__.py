"""The federation's settings, read once from mkdocs.yml without MkDocs: the sites, the letters, membership, personal data, the service's paths."""
