"""Keys and tokens: signing secrets and their purposes, JWT verification and issuing.

Used by the transport's auth interceptor, the composition root and the command line;
imports nothing from them.
"""
