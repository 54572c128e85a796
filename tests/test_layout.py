import subprocess
import sys


def test_bitstream_never_imports_torch():
    code = "import sys, bitstream, bitstream.sae; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
