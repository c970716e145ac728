using Npgsql;

namespace Boxes.Api.Billing;

/// <summary>
/// Plan changes that Stripe reported (<c>api.stripe_events</c>): each event is acted on once, and an organisation's plan
/// follows the newest paid checkout by Stripe's own event time, whatever order the deliveries arrive in.
/// </summary>
public sealed class StripeEvents(NpgsqlDataSource dataSource)
{
    public const string PlanSet = "plan_set";
    public const string Duplicate = "duplicate";
    public const string Superseded = "superseded";
    public const string UnknownOrganization = "unknown_organization";

    /// <summary>Sets the organisation's plan for a paid checkout; returns what was done (one of the constants above).</summary>
    public async Task<string> ApplyPaidCheckoutAsync(string eventId, string type, DateTimeOffset created, Guid organizationId, string plan, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One organisation's events one at a time, so two deliveries racing cannot both think they are the newest.
        await using (var lockOrg = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 17))", conn, tx))
        {
            lockOrg.Parameters.Add(new() { Value = "org-plan:" + organizationId });
            await lockOrg.ExecuteNonQueryAsync(ct);
        }
        await using (var seen = new NpgsqlCommand("SELECT 1 FROM api.stripe_events WHERE event_id = $1", conn, tx))
        {
            seen.Parameters.Add(new() { Value = eventId });
            if (await seen.ExecuteScalarAsync(ct) is not null) return Duplicate;
        }

        string outcome;
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM api.organizations WHERE id = $1 FOR UPDATE", conn, tx))
        {
            exists.Parameters.Add(new() { Value = organizationId });
            outcome = await exists.ExecuteScalarAsync(ct) is null ? UnknownOrganization : PlanSet;
        }
        if (outcome == PlanSet)
        {
            await using var newer = new NpgsqlCommand(
                "SELECT 1 FROM api.stripe_events WHERE organization_id = $1 AND outcome = 'plan_set' AND created_at > $2 LIMIT 1", conn, tx);
            newer.Parameters.Add(new() { Value = organizationId });
            newer.Parameters.Add(new() { Value = created });
            if (await newer.ExecuteScalarAsync(ct) is not null) outcome = Superseded;
        }
        if (outcome == PlanSet)
        {
            await using var update = new NpgsqlCommand("UPDATE api.organizations SET plan = $2 WHERE id = $1", conn, tx);
            update.Parameters.Add(new() { Value = organizationId });
            update.Parameters.Add(new() { Value = plan });
            await update.ExecuteNonQueryAsync(ct);
        }
        await using (var record = new NpgsqlCommand("""
            INSERT INTO api.stripe_events (event_id, type, organization_id, plan, created_at, outcome) VALUES ($1, $2, $3, $4, $5, $6)
            """, conn, tx))
        {
            record.Parameters.Add(new() { Value = eventId });
            record.Parameters.Add(new() { Value = type });
            record.Parameters.Add(new() { Value = organizationId });
            record.Parameters.Add(new() { Value = plan });
            record.Parameters.Add(new() { Value = created });
            record.Parameters.Add(new() { Value = outcome });
            await record.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return outcome;
    }
}
