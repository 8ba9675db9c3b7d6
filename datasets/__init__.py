"""Simulators, loaders of real data and the registered tasks (data + symmetry + loss + metrics).

Every public module here registers its tasks with ``symzoo.register_task``; the registry imports
them on first use.
"""
