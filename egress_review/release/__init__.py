"""Release: approved outputs move to the release area with an Ed25519-signed manifest."""
