using System.CommandLine;
using System.Text;
using System.Text.Json;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>
/// `plexus devices cert add|remove|list`: the client certificates a device authenticates with on the MQTT TLS
/// listener (docs/devices.md#client-certificates). Only the certificate leaves this machine: a PEM file that also
/// holds the private key has its certificate sent and its key left out.
/// </summary>
internal static class DeviceCertificatesCommand
{
    public static Command Create()
    {
        var command = new Command("cert", "Manage a device's client certificates for MQTT over TLS (registered by SHA-256 thumbprint)");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(List());
        return command;
    }

    /// <summary>The `--cert` option of `devices add`.</summary>
    public static Option<string?> CertOption() => new("--cert") { Description = "A PEM file with the device's client certificate (only the certificate is sent, never a key): the device may connect to the MQTT TLS listener with it, without a token" };

    /// <summary>The JSON body that registers the certificate in <paramref name="pemFileOrThumbprint"/>: a PEM file's certificate, or a SHA-256 thumbprint.</summary>
    public static string AddBody(string pemFileOrThumbprint)
    {
        string certificate = IsThumbprint(pemFileOrThumbprint) && !File.Exists(pemFileOrThumbprint)
            ? pemFileOrThumbprint
            : CertificateOf(pemFileOrThumbprint);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("certificate", certificate);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The request path of a device's certificates.</summary>
    public static string PathOf(string deviceId) => "api/v1/devices/" + Uri.EscapeDataString(deviceId) + "/certificates";

    private static Command Add()
    {
        var id = IdArgument();
        var certificate = new Argument<string>("certificate") { Description = "A PEM file with the device's certificate, or its SHA-256 thumbprint (64 hex digits)" };
        var command = new Command("add", "Register a client certificate for a device; a device may have up to 4, so a new one can be added before the old one is removed") { id, certificate };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = AddBody(parse.GetValue(certificate)!);
            using var document = await SendAsync(client, HttpMethod.Post, PathOf(parse.GetValue(id)!), body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Remove()
    {
        var id = IdArgument();
        var thumbprint = new Argument<string>("thumbprint") { Description = "The certificate's SHA-256 thumbprint, as `plexus devices cert list` shows it" };
        var command = new Command("remove", "Remove a device's certificate: it stops working at once and the connections that used it are closed") { id, thumbprint };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string deviceId = parse.GetValue(id)!;
            string removed = parse.GetValue(thumbprint)!;
            using var document = await SendAsync(client, HttpMethod.Delete, PathOf(deviceId) + "/" + Uri.EscapeDataString(removed), null, cancellationToken);
            await output.WriteLineAsync($"removed certificate {removed} of {deviceId}");
        });
    }

    private static Command List()
    {
        var id = IdArgument();
        var command = new Command("list", "List a device's client certificates: thumbprint, subject, issuer, validity") { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, PathOf(parse.GetValue(id)!), null, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The device id" };

    private static bool IsThumbprint(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigit);

    /// <summary>The first certificate block of a PEM file; a key in the file stays here.</summary>
    private static string CertificateOf(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the certificate file {path}: {e.Message}");
        }

        const string Begin = "-----BEGIN CERTIFICATE-----";
        const string End = "-----END CERTIFICATE-----";
        int start = text.IndexOf(Begin, StringComparison.Ordinal);
        int end = start < 0 ? -1 : text.IndexOf(End, start, StringComparison.Ordinal);
        if (end < 0)
        {
            throw new CliException($"{path} holds no PEM certificate ({Begin} ... {End}); give the device's certificate as PEM, or its SHA-256 thumbprint");
        }

        return text[start..(end + End.Length)] + "\n";
    }
}
