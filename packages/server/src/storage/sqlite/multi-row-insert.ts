/**
 * Batched multi-row INSERTs for the embedded store's hottest writes (points and rollup blocks):
 * one statement call per many rows, values bound as arguments.
 */
import type Database from 'better-sqlite3';

/**
 * One multi-row INSERT, written in chunks: rows are buffered flat (`columns` values a row) and
 * go out `maxRows` a statement; what is left at flush goes out in statements of powers of two
 * rows (99 rows: 64 + 32 + 2 + 1), so a commit never pays one call per row. The buffer is
 * reused: better-sqlite3 copies what it binds.
 */
export class MultiRowInsert {
  readonly values: Array<number | null>;
  private length = 0;
  private readonly statements = new Map<number, Database.Statement>();

  constructor(
    private readonly database: Database.Database,
    private readonly head: string,
    private readonly tail: string,
    private readonly columns: number,
    private readonly maxRows: number,
  ) {
    // Packed (filled by push; `new Array(n)` is holey), so `apply` copies it straight onto the
    // call; and numbers, so V8 keeps them unboxed until a null (a NaN value) comes.
    this.values = [];
    for (let index = 0; index < maxRows * columns; index++) this.values.push(0);
  }

  /** Where the next row's values go in `values` (a full buffer is written first). */
  nextRow(): number {
    if (this.length === this.values.length) {
      this.run(this.maxRows, this.values);
      this.length = 0;
    }
    const row = this.length;
    this.length += this.columns;
    return row;
  }

  /** Writes the rows buffered. */
  flush(): void {
    let offset = 0;
    let rows = this.length / this.columns;
    while (rows > 0) {
      const size = rows === this.maxRows ? rows : 1 << (31 - Math.clz32(rows));
      const end = offset + size * this.columns;
      this.run(size, size === this.maxRows ? this.values : this.values.slice(offset, end));
      offset = end;
      rows -= size;
    }
    this.length = 0;
  }

  /** Forgets the rows buffered (a rolled-back transaction). */
  clear(): void {
    this.length = 0;
  }

  /**
   * Binds the values as arguments, not as one array: better-sqlite3 reads an array's elements
   * one V8 API call each (~40 ns a value here, against ~25 as arguments). `apply`, not a spread:
   * a spread goes through the array iterator once anything in the process has touched it (as
   * something in the server does: ~3% of its instructions went to ArrayIteratorPrototypeNext).
   */
  private run(rows: number, values: Array<number | null>): void {
    const statement = this.statement(rows);
    statement.run.apply(statement, values);
  }

  private statement(rows: number): Database.Statement {
    let statement = this.statements.get(rows);
    if (statement === undefined) {
      const row = `(${Array(this.columns).fill('?').join(', ')})`;
      statement = this.database.prepare(
        `${this.head} ${Array(rows).fill(row).join(', ')}${this.tail}`,
      );
      this.statements.set(rows, statement);
    }
    return statement;
  }
}
