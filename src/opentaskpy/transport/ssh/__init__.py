"""The SSH transport: connections, options, host keys, errors, SFTP pipelines.

Everything paramiko-specific lives here; it imports neither the file-system
layer nor protocol or task handlers.
"""
