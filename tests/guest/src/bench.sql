-- The guest's sqlite workload (tests/guest/init.sh): Debian's sqlite3 on an in-memory
-- database, run as
--   sqlite3 -batch :memory: 'CREATE TABLE cfg(n INTEGER); INSERT INTO cfg VALUES(N);' '.read bench.sql'
-- with N orders (the quick and the normal size). Tables filled from recursive CTEs with
-- a linear congruential generator, indexes, joins, GROUP BY, window functions, a
-- correlated subquery, updates and deletes; integer arithmetic only, every result
-- ordered, so the output is the same on every correct RISC-V machine: init.sh checks its
-- sha256 against constants computed with QEMU. Changing this file needs new constants.
.mode list
.headers off

CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, region INTEGER NOT NULL,
                       since INTEGER NOT NULL);
CREATE TABLE items(id INTEGER PRIMARY KEY, label TEXT NOT NULL, category INTEGER NOT NULL,
                   price INTEGER NOT NULL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, item INTEGER NOT NULL,
                    qty INTEGER NOT NULL, day INTEGER NOT NULL, note TEXT);

-- Customers and items: n/20 and 500 rows.
WITH RECURSIVE g(i, x) AS (
    SELECT 1, 20250101
    UNION ALL
    SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM g
    WHERE i < (SELECT n / 20 FROM cfg))
INSERT INTO customers
SELECT i,
       char(65 + x % 26, 97 + (x / 26) % 26, 97 + (x / 676) % 26, 97 + (x / 17576) % 26)
           || '-' || ((x / 456976) % 1000),
       (x / 7) % 12,
       (x / 11) % 3650
FROM g;

WITH RECURSIVE g(i, x) AS (
    SELECT 1, 777
    UNION ALL
    SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM g WHERE i < 500)
INSERT INTO items
SELECT i, 'item-' || printf('%04d', i) || '-' || char(97 + x % 26, 97 + (x / 26) % 26),
       (x / 3) % 24, 100 + (x / 5) % 99900
FROM g;

-- Orders: n rows, customers and items skewed toward small ids.
WITH RECURSIVE g(i, x) AS (
    SELECT 1, 4242
    UNION ALL
    SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM g
    WHERE i < (SELECT n FROM cfg))
INSERT INTO orders
SELECT i,
       1 + ((x % 1000) * (x % 1000) * (SELECT n / 20 FROM cfg)) / 1000000,
       1 + (x / 1000) % 500,
       1 + (x / 500000) % 9,
       (x / 13) % 365,
       CASE WHEN x % 7 = 0 THEN 'gift' WHEN x % 11 = 0 THEN 'express' ELSE NULL END
FROM g;

CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item_day ON orders(item, day);
CREATE INDEX customers_region ON customers(region, name);

SELECT 'rows', (SELECT count(*) FROM customers), (SELECT count(*) FROM items),
       (SELECT count(*) FROM orders);

-- Revenue per region.
SELECT 'region', c.region, count(*), sum(o.qty), sum(o.qty * i.price)
FROM orders o JOIN customers c ON c.id = o.customer JOIN items i ON i.id = o.item
GROUP BY c.region ORDER BY c.region;

-- The 25 best customers.
SELECT 'top', c.id, c.name, count(*) AS n, sum(o.qty * i.price) AS total
FROM customers c JOIN orders o ON o.customer = c.id JOIN items i ON i.id = o.item
GROUP BY c.id ORDER BY total DESC, c.id LIMIT 25;

-- Monthly revenue per category, with each category's running total.
SELECT 'month', category, month, revenue,
       sum(revenue) OVER (PARTITION BY category ORDER BY month) AS running
FROM (SELECT i.category AS category, o.day / 31 AS month, sum(o.qty * i.price) AS revenue
      FROM orders o JOIN items i ON i.id = o.item
      GROUP BY i.category, o.day / 31)
ORDER BY category, month;

-- Items ranked by quantity inside their category: the top 3 of each.
SELECT 'rank', category, id, label, q, r
FROM (SELECT i.category, i.id, i.label, sum(o.qty) AS q,
             rank() OVER (PARTITION BY i.category ORDER BY sum(o.qty) DESC, i.id) AS r
      FROM items i JOIN orders o ON o.item = i.id GROUP BY i.id)
WHERE r <= 3 ORDER BY category, r;

-- Customers whose biggest order beats three times the average order of their region
-- (a correlated subquery through the customer index, per customer).
WITH avg_region(region, a) AS (
    SELECT c.region, sum(o.qty * i.price) / count(*)
    FROM orders o JOIN customers c ON c.id = o.customer JOIN items i ON i.id = o.item
    GROUP BY c.region)
SELECT 'outlier', count(*), sum(c.id) FROM customers c JOIN avg_region r ON r.region = c.region
WHERE (SELECT max(o.qty * i.price) FROM orders o JOIN items i ON i.id = o.item
       WHERE o.customer = c.id) > 3 * r.a;

-- Notes and name patterns: string work.
SELECT 'note', coalesce(note, '-'), count(*), sum(qty) FROM orders GROUP BY note ORDER BY note;
SELECT 'names', region, count(*), min(name), max(name),
       sum(length(name)), sum(unicode(substr(upper(name), 2, 1)) * instr(name, '-'))
FROM customers WHERE name LIKE '_a%' OR name GLOB '*[xyz]-*'
GROUP BY region ORDER BY region;

-- Updates and deletes, then the totals again.
UPDATE items SET price = price * 11 / 10 WHERE category % 3 = 0;
DELETE FROM orders WHERE day % 10 = 9 AND qty < 3;
UPDATE orders SET qty = qty + 1 WHERE note = 'express';
SELECT 'after', count(*), sum(o.qty), sum(o.qty * i.price)
FROM orders o JOIN items i ON i.id = o.item;

-- Busiest day per region (ties to the earlier day).
SELECT 'busiest', region, day, n FROM (
    SELECT c.region AS region, o.day AS day, count(*) AS n,
           row_number() OVER (PARTITION BY c.region ORDER BY count(*) DESC, o.day) AS rn
    FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.region, o.day)
WHERE rn = 1 ORDER BY region;

-- Distinct customers per item bucket, through a temporary table and EXCEPT.
CREATE TEMP TABLE big AS SELECT DISTINCT customer FROM orders WHERE qty >= 8;
CREATE TEMP TABLE early AS SELECT DISTINCT customer FROM orders WHERE day < 30;
SELECT 'sets', (SELECT count(*) FROM big), (SELECT count(*) FROM early),
       (SELECT count(*) FROM (SELECT customer FROM big EXCEPT SELECT customer FROM early)),
       (SELECT count(*) FROM (SELECT customer FROM big INTERSECT SELECT customer FROM early));
SELECT 'check', sum(id * qty % 1000003), total_changes() > 0 FROM orders;
