/*
 * A stand-in bcryptprimitives.dll for Wine releases that lack one (Wine 8.0, Debian 12).
 *
 * Rust's std (since 1.78) gets random bytes on Windows from ProcessPrng in
 * bcryptprimitives.dll, loaded before main. Wine 8.0 ships no such DLL, so every Rust test
 * binary exits with code 53 without printing anything.
 * This DLL exports ProcessPrng and fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which Wine implements. .ci/windows/setup builds it with mingw and puts it
 * in the Wine prefix's system32. Only for tests under Wine: never ship it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
