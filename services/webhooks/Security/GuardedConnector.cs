using System.Net;
using System.Net.Sockets;

namespace Boxes.Webhooks.Security;

/// <summary>
/// The delivery client's <see cref="SocketsHttpHandler.ConnectCallback"/>: the guard resolves and checks the host,
/// and the socket connects only to an address it checked. There is no second lookup between the check and the
/// connection for a rebinding name to exploit (ConnectTimeGuardTests).
/// </summary>
public sealed class GuardedConnector(SsrfGuard guard)
{
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var decision = await guard.CheckHostAsync(endpoint.Host, ct);
        if (!decision.Allowed) throw new WebhookTargetRefusedException(decision.Refusal!);

        Exception? last = null;
        foreach (var address in decision.Addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }
}
