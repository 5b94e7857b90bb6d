"""The quarantine: where uploaded outputs wait, encrypted, until they are released or discarded."""
