using Microsoft.Win32.SafeHandles;

namespace Boxes.Cli;

/// <summary>Standard input as plain file descriptor 0, unbuffered, so every key reaches the sandbox as typed.</summary>
internal static class TerminalInput
{
    public static Stream Open() => OperatingSystem.IsWindows()
        ? Console.OpenStandardInput()
        : new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
}
