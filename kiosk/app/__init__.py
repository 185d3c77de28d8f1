"""The composition root (`Terminal`) and what runs around it: the demo's devices and embedded
back office."""
