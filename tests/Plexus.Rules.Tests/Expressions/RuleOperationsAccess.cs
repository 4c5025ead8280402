using System.Text;
using Plexus.Rules.Expressions;

namespace Plexus.Rules.Tests.Expressions;

internal static class RuleOperationsAccess
{
    public static bool Like(string text, string pattern) => RuleOperations.Like(Encoding.UTF8.GetBytes(text), Encoding.UTF8.GetBytes(pattern), ignoreCase: false);
}
