"""Nova's instance metadata: what a guest learns about itself, from a config drive or
over HTTP at 169.254.169.254.

- ``content``: the documents (meta_data.json, network_data.json, user data, the EC2
  tree), pure functions of the instance and its ports;
- ``tree``: which document lives at which path, and the text listings;
- ``configdrive``: the config drive's files and its ISO 9660 image;
- ``ports``: the ports of a guest with the subnet details the documents need (over
  the networking service's rpcapi);
- ``secret``: the shared secret that signs instance ids, and the signature;
- ``app``: the metadata HTTP API (nova-api-metadata), in the compute service process;
- ``relay``: a per-instance Unix socket that forwards a guest's HTTP requests to the
  metadata API, signed (QEMU's guestfwd connects guests to it).

The agent and the drivers may import ``content``, ``configdrive``, ``ports``,
``secret`` and ``relay`` (none touches the database); only the compute service
imports ``app``.
"""
