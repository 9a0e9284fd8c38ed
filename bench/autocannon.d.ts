// autocannon ships no types (and @types/autocannon is not a dependency): the bench
// scripts use it untyped.
declare module 'autocannon';
