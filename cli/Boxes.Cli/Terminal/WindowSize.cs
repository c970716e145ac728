using System.Runtime.InteropServices;

namespace Boxes.Cli.Terminal;

/// <summary>
/// A terminal's size from the TIOCGWINSZ ioctl. Console.WindowWidth/WindowHeight would give the same numbers, but the
/// first use of them initialises .NET's console, which switches the terminal to keypad-transmit mode (ESC[?1h ESC=)
/// and leaves it there after the process exits; the CLI never touches System.Console's terminal handling for that reason.
/// </summary>
internal static partial class WindowSize
{
    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows;
        public ushort Cols;
        public ushort XPixels;
        public ushort YPixels;
    }

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static extern int IoctlWinSize(int fd, nuint request, out WinSize size);

    /// <summary>Columns and rows of the terminal on <paramref name="fd"/>, or null if it is not a terminal (or not Unix).</summary>
    public static (int Cols, int Rows)? Of(int fd)
    {
        nuint request;
        if (OperatingSystem.IsLinux()) request = 0x5413;
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) request = 0x40087468;
        else return null;
        try
        {
            return IoctlWinSize(fd, request, out var size) == 0 && size.Cols > 0 && size.Rows > 0 ? (size.Cols, size.Rows) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
