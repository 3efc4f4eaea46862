"""The avatar studio: procedural characters and the synthetic dyadic dialogue data every model trains on."""
