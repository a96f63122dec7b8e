"""The key layer: trusted issuers by `iss`, each issuer's keys kept fresh, the only network I/O."""
