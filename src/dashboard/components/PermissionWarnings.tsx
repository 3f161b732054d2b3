/**
 * What the server warned about in a key's permissions: names that do not exist yet (a misspelt
 * collection, an excluded field that is not a field) and rules with no effect. The permissions
 * were stored as sent; these say what to double-check.
 */
interface PermissionWarningsProps {
  warnings: readonly string[] | undefined;
}

export function PermissionWarnings({ warnings }: PermissionWarningsProps) {
  if (!warnings?.length) return null;
  return (
    <div class="alert alert-warning permission-warnings" role="note" data-testid="permission-warnings">
      <p>Saved, but check {warnings.length === 1 ? 'this' : 'these'}:</p>
      <ul>
        {warnings.map((warning) => <li key={warning}>{warning}</li>)}
      </ul>
    </div>
  );
}
