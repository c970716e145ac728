using Microsoft.Win32.SafeHandles;

namespace Boxes.Cli.Terminal;

/// <summary>
/// A terminal's file descriptor as a plain unbuffered stream. .NET's console streams are avoided on a terminal: their
/// first read or write initialises System.Console's terminal handling, which switches the terminal to keypad-transmit
/// mode (ESC[?1h ESC=) and leaves it so after exit, and its stdin stream does its own line editing and echo, which the
/// terminal command's raw mode must not have. Only for terminals: on a redirected file, a FileStream would write at
/// its own offsets and clobber what another descriptor sharing the file wrote.
/// </summary>
internal static class TerminalStreams
{
    public static Stream? Open(int fd, FileAccess access) => OperatingSystem.IsWindows()
        ? null
        : new FileStream(new SafeFileHandle(fd, ownsHandle: false), access, bufferSize: 0);
}
