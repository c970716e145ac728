using System.Runtime.InteropServices;

namespace Boxes.Worker.Browsers;

/// <summary>SIGKILL for a process or a whole process group, straight from libc.</summary>
internal static partial class Signals
{
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    public static void Kill(int pid) => SysKill(pid, SigKill);

    private const int PrioProcessGroup = 1;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SysSetPriority(int which, int who, int priority);

    /// <summary>Sets the scheduling priority (nice value) of every process in the group led by <paramref name="leader"/>.</summary>
    public static bool SetGroupPriority(int leader, int nice) => leader > 1 && SysSetPriority(PrioProcessGroup, leader, nice) == 0;

    /// <summary>
    /// Kills every process in the group led by <paramref name="leader"/>, if the group still has a member. An empty
    /// group's id is free for reuse once its leader has been reaped, and a process that later leads a group of its
    /// own under that number (another browser, a sandbox's agent) must not receive our signal. While any member
    /// remains, the kernel keeps the number reserved, so checking for one first makes the group signal safe.
    /// </summary>
    public static void KillGroup(int leader)
    {
        if (leader > 1 && GroupHasMembers(leader)) SysKill(-leader, SigKill);
    }

    private static bool GroupHasMembers(int pgid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 4);
                if (fields[2] == pgid.ToString(System.Globalization.CultureInfo.InvariantCulture)) return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
            {
            }
        }
        return false;
    }

    private const long SysPidfdOpen = 434;
    private const long SysPidfdSendSignal = 424;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial int PidfdOpen(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial int PidfdSendSignal(long number, int pidfd, int signal, IntPtr info, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    /// <summary>
    /// SIGKILL for <paramref name="pid"/> only if it is a member of the cgroup named <paramref name="cgroupName"/>.
    /// A pid read a moment ago may belong to someone else by now (pids are recycled); a pidfd pins the process,
    /// so the signal reaches exactly the process whose membership was checked, or nobody if it already ended.
    /// </summary>
    public static bool KillIfInCgroup(int pid, string cgroupName)
    {
        if (pid <= 1) return false;
        var pidfd = PidfdOpen(SysPidfdOpen, pid, 0);
        if (pidfd < 0) return false; // already gone
        try
        {
            string membership;
            try { membership = File.ReadAllText($"/proc/{pid}/cgroup"); }
            catch (IOException) { return false; }
            // Read after the pidfd was opened: if the pid was recycled before that, this is the newcomer's cgroup and
            // we leave it alone; if our process ended after it, the signal below finds nobody (ESRCH).
            if (!membership.Split('\n').Any(line => line.EndsWith("/" + cgroupName, StringComparison.Ordinal))) return false;
            return PidfdSendSignal(SysPidfdSendSignal, pidfd, SigKill, IntPtr.Zero, 0) == 0;
        }
        finally
        {
            Close(pidfd);
        }
    }
}
