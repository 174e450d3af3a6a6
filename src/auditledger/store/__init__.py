"""Storage: schema, migrations, engines and the storage interface both databases implement."""
