"""Run kinds: what can be run under memtui and what each kind can change."""
