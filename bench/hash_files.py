"""Stream files through SHA-256 in 1 MiB reads and print one digest per file.

The plain streaming hash that `rysc verify` is compared with: Python's hashlib
(OpenSSL), reading each file once from start to end.
"""

import hashlib
import sys


def main(paths) -> int:
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        print(f"{digest.hexdigest()}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
