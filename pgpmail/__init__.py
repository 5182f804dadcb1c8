"""OpenPGP and the mail wire: the only package that knows gpg exists. It imports no app."""
