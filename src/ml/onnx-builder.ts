import onnxProto from 'onnx-proto';
import type { Mlp } from './mlp.js';

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

/** Tensor element types the builder can declare and store. */
export type OnnxElemType = 'float' | 'double' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

/**
 * One dimension of a declared shape: a number is fixed, a string is a named symbolic
 * dimension (e.g. 'N' for the batch), null is unknown.
 */
export type OnnxDim = number | string | null;

/** An attribute value whose ONNX type is stated, for when inference from a JS value would guess wrong. */
export type OnnxAttr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] };

/**
 * Attribute values: a plain integer becomes INT, any other number FLOAT, a string STRING,
 * an array INTS (all integers) or FLOATS, a string array STRINGS. Use {@link attr} to force
 * a type (e.g. `attr.float(1)` for alpha = 1.0).
 */
export type OnnxAttrValue = number | string | number[] | string[] | OnnxAttr;

/** Typed attribute constructors. */
export const attr = {
  int: (value: number): OnnxAttr => ({ type: 'int', value }),
  float: (value: number): OnnxAttr => ({ type: 'float', value }),
  string: (value: string): OnnxAttr => ({ type: 'string', value }),
  ints: (value: number[]): OnnxAttr => ({ type: 'ints', value }),
  floats: (value: number[]): OnnxAttr => ({ type: 'floats', value }),
  strings: (value: string[]): OnnxAttr => ({ type: 'strings', value }),
};

/** Options for {@link OnnxModelBuilder}. */
export interface OnnxModelBuilderOptions {
  /** Default 'main'. */
  graphName?: string;
  /** Default opset of the ai.onnx domain: 13 (Softmax over one axis, ReduceSum axes as an input). */
  opset?: number;
  /** Default 8 (what onnx-proto's schema, ONNX 1.10, describes; onnxruntime reads it). */
  irVersion?: number;
  /** Default 'palisade'. */
  producerName?: string;
  producerVersion?: string;
  docString?: string;
}

/** Options for {@link OnnxModelBuilder.addNode}. */
export interface OnnxNodeOptions {
  /** Node name; generated when omitted. */
  name?: string;
  /** Operator domain; '' (ai.onnx) by default. */
  domain?: string;
}

const ELEM_TYPES: Record<OnnxElemType, number> = {
  float: DataType.FLOAT,
  double: DataType.DOUBLE,
  int32: DataType.INT32,
  int64: DataType.INT64,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
};

const BYTES_PER: Record<OnnxElemType, number> = { float: 4, double: 8, int32: 4, int64: 8, uint8: 1, int8: 1, bool: 1 };

/**
 * Builds an ONNX model (one graph) with onnx-proto and serialises it. Every name a node
 * reads must be a graph input, an initializer or an earlier node's output; {@link toBytes}
 * checks this so a wiring mistake fails here rather than inside onnxruntime.
 *
 * @example
 * const b = new OnnxModelBuilder();
 * const x = b.addInput('input', 'float', ['N', 4]);
 * const w = b.addInitializer('w', 'float', [4, 2], new Float32Array(8).fill(0.5));
 * b.op('MatMul', [x, w], {}, { output: 'scores' });
 * b.addOutput('scores', 'float', ['N', 2]);
 * const bytes = b.toBytes(); // -> new ort.InferenceSession.create(bytes)
 */
export class OnnxModelBuilder {
  private readonly options: Required<Omit<OnnxModelBuilderOptions, 'producerVersion' | 'docString'>> &
    Pick<OnnxModelBuilderOptions, 'producerVersion' | 'docString'>;
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly metadata: { key: string; value: string }[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(options: OnnxModelBuilderOptions = {}) {
    this.options = {
      graphName: options.graphName ?? 'main',
      opset: options.opset ?? 13,
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? 'palisade',
      producerVersion: options.producerVersion,
      docString: options.docString,
    };
  }

  /** A name not used yet in this graph, starting with `prefix`. */
  uniqueName(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    return name;
  }

  /** Declares a graph input; returns its name. */
  addInput(name: string, type: OnnxElemType, shape: OnnxDim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** Declares a graph output (some node must produce `name`); returns its name. */
  addOutput(name: string, type: OnnxElemType, shape: OnnxDim[]): string {
    if (this.outputs.some((o) => o.name === name)) throw new Error(`OnnxModelBuilder: output ${name} declared twice`);
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  /**
   * Adds a constant tensor, stored as little-endian raw data; returns its name. `data` is
   * row-major with one value per element of `dims` (booleans as 0/1).
   */
  addInitializer(name: string, type: OnnxElemType, dims: number[], data: ArrayLike<number> | BigInt64Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new RangeError(`OnnxModelBuilder: initializer ${name} has ${data.length} values for dims [${dims}]`);
    this.claim(name);
    this.initializers.push({ name, dims, dataType: ELEM_TYPES[type], rawData: rawBytes(type, data) });
    return name;
  }

  /**
   * Adds a node. `outputs` are the names it produces (a number asks for that many fresh
   * names). Returns the output names. An empty string in `inputs` is an omitted optional input.
   */
  addNode(
    opType: string,
    inputs: string[],
    outputs: string[] | number = 1,
    attributes: Record<string, OnnxAttrValue> = {},
    options: OnnxNodeOptions = {},
  ): string[] {
    // Each generated name is claimed before the next is made, so a node with several
    // generated outputs (Split, TopK) gets distinct names.
    const outNames: string[] = [];
    if (typeof outputs === 'number') {
      for (let i = 0; i < outputs; i++) {
        const o = this.uniqueName(`${opType.toLowerCase()}_out`);
        this.claim(o);
        outNames.push(o);
      }
    } else {
      for (const o of outputs) this.claim(o);
      outNames.push(...outputs);
    }
    const name = options.name ?? this.uniqueName(opType);
    this.names.add(name);
    this.nodes.push({
      opType,
      name,
      domain: options.domain ?? '',
      input: inputs,
      output: outNames,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outNames;
  }

  /**
   * Adds a one-output node and returns the output's name, so expressions nest:
   * `b.op('Relu', [b.op('Add', [b.op('MatMul', [x, w]), bias])])`.
   */
  op(opType: string, inputs: string[], attributes: Record<string, OnnxAttrValue> = {}, options: OnnxNodeOptions & { output?: string } = {}): string {
    return this.addNode(opType, inputs, options.output ? [options.output] : 1, attributes, options)[0];
  }

  /** Adds a key/value pair to the model's metadata_props (onnxruntime exposes them). */
  setMetadata(key: string, value: string): void {
    const existing = this.metadata.find((m) => m.key === key);
    if (existing) existing.value = value;
    else this.metadata.push({ key, value });
  }

  /** The model as an onnx-proto ModelProto, after checking the graph's wiring. */
  toModelProto(): onnxProto.onnx.ModelProto {
    this.checkWiring();
    return onnx.ModelProto.create({
      irVersion: this.options.irVersion,
      opsetImport: [{ domain: '', version: this.options.opset }],
      producerName: this.options.producerName,
      producerVersion: this.options.producerVersion,
      docString: this.options.docString,
      metadataProps: this.metadata.map((m) => ({ ...m })),
      graph: {
        name: this.options.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
  }

  /** The serialised model (the bytes of a .onnx file). */
  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModelProto()).finish();
  }

  private claim(name: string): void {
    if (!name) throw new Error('OnnxModelBuilder: names must be non-empty');
    if (this.names.has(name)) throw new Error(`OnnxModelBuilder: name ${name} is already used`);
    this.names.add(name);
  }

  private checkWiring(): void {
    const known = new Set<string>([...this.inputs.map((i) => i.name!), ...this.initializers.map((i) => i.name!)]);
    for (const node of this.nodes) {
      for (const input of node.input ?? []) {
        if (input !== '' && !known.has(input)) throw new Error(`OnnxModelBuilder: node ${node.name} reads ${input}, which nothing defines before it`);
      }
      for (const output of node.output ?? []) known.add(output);
    }
    for (const output of this.outputs) {
      if (!known.has(output.name!)) throw new Error(`OnnxModelBuilder: graph output ${output.name} is produced by no node`);
    }
    if (this.outputs.length === 0) throw new Error('OnnxModelBuilder: the graph has no outputs');
  }
}

function valueInfo(name: string, type: OnnxElemType, shape: OnnxDim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPES[type],
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
        },
      },
    },
  };
}

function rawBytes(type: OnnxElemType, data: ArrayLike<number> | BigInt64Array): Uint8Array {
  const view = new DataView(new ArrayBuffer(data.length * BYTES_PER[type]));
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    switch (type) {
      case 'float':
        view.setFloat32(i * 4, Number(v), true);
        break;
      case 'double':
        view.setFloat64(i * 8, Number(v), true);
        break;
      case 'int32':
        view.setInt32(i * 4, Number(v), true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, BigInt(v), true);
        break;
      case 'uint8':
      case 'bool':
        view.setUint8(i, Number(v));
        break;
      case 'int8':
        view.setInt8(i, Number(v));
        break;
    }
  }
  return new Uint8Array(view.buffer);
}

function attribute(name: string, value: OnnxAttrValue): onnxProto.onnx.IAttributeProto {
  const a = normaliseAttr(name, value);
  switch (a.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => new TextEncoder().encode(s)) };
  }
}

function normaliseAttr(name: string, value: OnnxAttrValue): OnnxAttr {
  if (typeof value === 'number') return Number.isInteger(value) ? attr.int(value) : attr.float(value);
  if (typeof value === 'string') return attr.string(value);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return attr.strings(value as string[]);
    if (value.every((v) => typeof v === 'number')) {
      const nums = value as number[];
      return nums.every(Number.isInteger) ? attr.ints(nums) : attr.floats(nums);
    }
    throw new TypeError(`OnnxModelBuilder: attribute ${name} mixes strings and numbers`);
  }
  return value;
}

/** Options for {@link appendMlp} and {@link mlpToOnnx}. */
export interface MlpOnnxOptions {
  /** Prefix of the weight initializer and intermediate names. Default 'mlp'. */
  prefix?: string;
}

/**
 * Appends an MLP's layers to a graph under construction, reading `input` ([N, inputSize]
 * float) and returning the name of its logits ([N, outputSize]). Use it to put a
 * featurizer (Gather, ReduceSum, ...) in front of the network in one model.
 */
export function appendMlp(builder: OnnxModelBuilder, mlp: Mlp, input: string, options: MlpOnnxOptions & { logitsName?: string } = {}): string {
  const prefix = options.prefix ?? 'mlp';
  let h = input;
  for (let l = 0; l < mlp.layerCount; l++) {
    const w = builder.addInitializer(builder.uniqueName(`${prefix}.${l}.weight`), 'float', [mlp.sizes[l], mlp.sizes[l + 1]], mlp.weights[l]);
    const b = builder.addInitializer(builder.uniqueName(`${prefix}.${l}.bias`), 'float', [mlp.sizes[l + 1]], mlp.biases[l]);
    const last = l === mlp.layerCount - 1;
    const z = builder.op('Add', [builder.op('MatMul', [h, w]), b], {}, last && options.logitsName ? { output: options.logitsName } : {});
    h = last ? z : builder.op('Relu', [z]);
  }
  return h;
}

/** Options for {@link mlpToOnnx}. */
export interface MlpToOnnxOptions extends MlpOnnxOptions {
  /** Name of the [N, inputSize] float input. Default 'input'. */
  inputName?: string;
  /**
   * Which outputs the graph has: the raw logits, the head's probabilities (softmax over
   * the last axis or a sigmoid per output), or both (probabilities first). Default
   * 'probabilities'.
   */
  outputs?: 'logits' | 'probabilities' | 'both';
  /** Default 'logits'. */
  logitsName?: string;
  /** Default 'probabilities'. */
  probabilitiesName?: string;
  /** Symbolic name of the batch dimension. Default 'N'. */
  batchDim?: string;
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>;
  docString?: string;
}

/**
 * Exports an {@link Mlp} as a standalone ONNX model with a dynamic batch dimension.
 *
 * @example
 * writeFileSync('model.onnx', mlpToOnnx(mlp, { outputs: 'both' }));
 */
export function mlpToOnnx(mlp: Mlp, options: MlpToOnnxOptions = {}): Uint8Array {
  const {
    inputName = 'input',
    outputs = 'probabilities',
    logitsName = 'logits',
    probabilitiesName = 'probabilities',
    batchDim = 'N',
  } = options;
  const b = new OnnxModelBuilder({ graphName: 'mlp', docString: options.docString });
  b.addInput(inputName, 'float', [batchDim, mlp.inputSize]);
  const wantLogits = outputs === 'logits' || outputs === 'both';
  const logits = appendMlp(b, mlp, inputName, { prefix: options.prefix, logitsName: wantLogits ? logitsName : undefined });
  if (outputs !== 'logits') {
    if (mlp.head === 'softmax') b.op('Softmax', [logits], { axis: -1 }, { output: probabilitiesName });
    else b.op('Sigmoid', [logits], {}, { output: probabilitiesName });
    b.addOutput(probabilitiesName, 'float', [batchDim, mlp.outputSize]);
  }
  if (wantLogits) b.addOutput(logitsName, 'float', [batchDim, mlp.outputSize]);
  b.setMetadata('palisade.mlp.sizes', JSON.stringify(mlp.sizes));
  b.setMetadata('palisade.mlp.head', mlp.head);
  for (const [k, v] of Object.entries(options.metadata ?? {})) b.setMetadata(k, v);
  return b.toBytes();
}
