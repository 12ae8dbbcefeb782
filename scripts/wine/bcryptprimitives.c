/*
 * Stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks. bun.exe (and deno.exe)
 * import exactly one function from it, ProcessPrng, so without this DLL beside bun.exe the
 * Windows loader refuses to start Bun under Wine. Built by scripts/test-windows.mjs with
 * x86_64-w64-mingw32-gcc and linked with -ladvapi32 for RtlGenRandom (SystemFunction036).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes; always TRUE on real Windows, so fail loudly here. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
