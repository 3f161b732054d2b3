/** The `?db=` picker: the databases this session can see (`GET /api/databases`). */
import { useEffect, useId, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';

interface DatabasePickerProps {
  value: string;
  onChange: (name: string) => void;
}

export function DatabasePicker({ value, onChange }: DatabasePickerProps) {
  const id = useId();
  const [databases, setDatabases] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    request<{ databases: string[] }>('/api/databases', { signal: controller.signal })
      .then((answer) => setDatabases(Array.isArray(answer.databases) ? answer.databases : []))
      .catch((failure: unknown) => {
        if (!isAbort(failure)) setError(errorMessage(failure));
      });
    return () => controller.abort();
  }, []);

  const options = databases ?? [value];
  if (!options.includes(value)) options.unshift(value);

  return (
    <div class="field field-inline">
      <label for={id}>Database</label>
      <select id={id} value={value} onChange={(event) => onChange(event.currentTarget.value)} disabled={databases === null && !error}>
        {options.map((name) => <option key={name} value={name}>{name}</option>)}
      </select>
      {error ? <span class="field-error" role="alert">Could not list databases: {error}</span> : null}
    </div>
  );
}
