# Offline stand-in for ansible-test's get-pip bootstrap (the real one is downloaded from a host this
# machine cannot reach): bootstrap pip with the stdlib's ensurepip, then pip-install the requested
# packages through the machine's own pip configuration (PyPI).
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
