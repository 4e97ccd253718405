"""Local sandbox for m8trx.deployer: emulators and their launcher (not shipped in the collection)."""
