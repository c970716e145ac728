namespace Boxes.Testing;

/// <summary>
/// Infrastructure that scripts/test.sh starts and names in environment variables. A missing variable
/// fails the test with a message naming it; it never turns into a silent pass.
/// </summary>
public static class TestEnvironment
{
    public static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"Environment variable {name} is not set. Run the tests through scripts/test.sh, which starts PostgreSQL, RabbitMQ and Chromium and sets it.");

    /// <summary>An admin connection string (database "postgres") that may create databases.</summary>
    public static string PostgresAdmin => Require("BOXES_TEST_PG");

    /// <summary>amqp://user:pass@host:port/ (no vhost).</summary>
    public static string RabbitMq => Require("BOXES_TEST_RABBITMQ");

    /// <summary>http://user:pass@host:15672 for the management API.</summary>
    public static string RabbitMqManagement => Require("BOXES_TEST_RABBITMQ_MANAGEMENT");

    public static string Chromium => Environment.GetEnvironmentVariable("BOXES_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";
}
