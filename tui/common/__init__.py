"""The vocabulary every layer shares: verdict kinds, run states, bytes in words. Imports nothing."""
