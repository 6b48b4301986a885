#!/usr/bin/env python3
"""Loads a PTX file with the CUDA driver's JIT (cuModuleLoadDataEx) and prints its info and error
logs, verbose: what the driver says of the PTX that ILGPU emitted, when ILGPU's own load fails.

    python3 bench/gpu/jit_log.py FILE.ptx

Standard library only (ctypes on libcuda.so.1). Exit code: 0 loaded, 1 the JIT refused it, 2 no driver.
"""
import ctypes
import sys

CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 3, 4
CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 5, 6
CU_JIT_LOG_VERBOSE = 12
LOG_BYTES = 1 << 16


def main():
    ptx = open(sys.argv[1], "rb").read() + b"\0"
    cuda = None
    for path in ("libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"):
        try:
            cuda = ctypes.CDLL(path)
            break
        except OSError as e:
            reason = e
    if cuda is None:
        print(f"jit_log.py: no CUDA driver: {reason}")
        return 2

    def check(what, code):
        if code != 0:
            name = ctypes.c_char_p()
            cuda.cuGetErrorName(code, ctypes.byref(name))
            print(f"{what}: error {code} {name.value.decode() if name.value else ''}")
        return code

    if check("cuInit", cuda.cuInit(0)):
        return 2
    version = ctypes.c_int()
    cuda.cuDriverGetVersion(ctypes.byref(version))
    print(f"driver API version {version.value}")
    device, context = ctypes.c_int(), ctypes.c_void_p()
    if check("cuDeviceGet", cuda.cuDeviceGet(ctypes.byref(device), 0)) or \
            check("cuDevicePrimaryCtxRetain", cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device)) or \
            check("cuCtxSetCurrent", cuda.cuCtxSetCurrent(context)):
        return 2
    info, error = ctypes.create_string_buffer(LOG_BYTES), ctypes.create_string_buffer(LOG_BYTES)
    keys = [CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE]
    values = [ctypes.cast(info, ctypes.c_void_p), ctypes.c_void_p(LOG_BYTES), ctypes.cast(error, ctypes.c_void_p),
              ctypes.c_void_p(LOG_BYTES), ctypes.c_void_p(1)]
    options = (ctypes.c_int * len(keys))(*keys)
    option_values = (ctypes.c_void_p * len(values))(*[v.value for v in values])
    module = ctypes.c_void_p()
    code = cuda.cuModuleLoadDataEx(ctypes.byref(module), ctypes.c_char_p(ptx), len(keys), options, option_values)
    check("cuModuleLoadDataEx", code)
    print("JIT info log:\n" + (info.value.decode(errors="replace") or "(empty)"))
    print("JIT error log:\n" + (error.value.decode(errors="replace") or "(empty)"))
    print("loaded" if code == 0 else "the JIT refused the PTX")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
