import * as ort from '../detect/ort.js';
import { ServerError } from './server-error.js';
import { ORT_TO_V2, elementCount, fromOrtData, toOrtData, type V2Datatype } from './tensor-json.js';

/** A model to serve: an ONNX file under a name and a version. */
export interface ServedModelSpec {
  name: string;
  /** Path of the .onnx file. */
  path: string;
  /** Default '1'. */
  version?: string;
  /**
   * Outputs that the TF Serving route returns (its one signature's outputs). Default: the
   * graph's first output only, as a TF Serving model with one output would answer.
   * The KServe v2 route always offers every output.
   */
  signatureOutputs?: string[];
}

/** A tensor the model reads or writes, as the protocols describe it. */
export interface TensorSpec {
  name: string;
  /** onnxruntime's element type, e.g. 'float32'. */
  ortType: string;
  datatype: V2Datatype;
  /** -1 for a dynamic dimension; empty when the model does not declare a shape. */
  shape: number[];
}

/** One input tensor of a request, already flattened. */
export interface TensorIn {
  name: string;
  shape: number[];
  data: (number | boolean)[];
}

/** One output tensor of a response, flat. */
export interface TensorOut {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  data: (number | boolean)[];
}

/**
 * An ONNX model loaded into an onnxruntime session, with the checks that turn a bad
 * request into a 400 instead of an onnxruntime error.
 */
export class ServedModel {
  private constructor(
    readonly name: string,
    readonly version: string,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly signatureOutputs: string[],
    private readonly session: ort.InferenceSession,
  ) {}

  /** Loads `spec.path`; rejects when the file is missing or not a model with tensor inputs and outputs. */
  static async load(spec: ServedModelSpec): Promise<ServedModel> {
    if (!/^[A-Za-z0-9._-]+$/.test(spec.name)) throw new Error(`model name ${JSON.stringify(spec.name)} must match [A-Za-z0-9._-]+`);
    const version = spec.version ?? '1';
    if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`model version ${JSON.stringify(version)} must match [A-Za-z0-9._-]+`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(spec.path);
    } catch (err) {
      throw new Error(`cannot load model ${spec.name} from ${spec.path}: ${(err as Error).message}`);
    }
    const describe = (m: ort.InferenceSession.ValueMetadata): TensorSpec => {
      if (!m.isTensor || !(m.type in ORT_TO_V2)) {
        throw new Error(`model ${spec.name}: ${m.name} is not a tensor of a supported type`);
      }
      return { name: m.name, ortType: m.type, datatype: ORT_TO_V2[m.type], shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
    };
    try {
      const inputs = session.inputMetadata.map(describe);
      const outputs = session.outputMetadata.map(describe);
      const signatureOutputs = spec.signatureOutputs ?? [outputs[0].name];
      for (const o of signatureOutputs) {
        if (!outputs.some((t) => t.name === o)) throw new Error(`model ${spec.name}: signature output ${o} is not an output of the graph`);
      }
      return new ServedModel(spec.name, version, inputs, outputs, signatureOutputs, session);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * Runs the model. Every input must be given once, with a shape that matches its data and
   * the model's declared shape; `outputNames` (default: all) must be outputs of the model.
   */
  async infer(inputs: TensorIn[], outputNames: string[] = this.outputs.map((o) => o.name)): Promise<TensorOut[]> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of inputs) {
      const spec = this.inputs.find((s) => s.name === input.name);
      if (!spec) throw new ServerError(400, `unexpected input ${JSON.stringify(input.name)}; the model reads ${this.inputs.map((s) => s.name).join(', ')}`);
      if (feeds[input.name]) throw new ServerError(400, `input ${input.name} given twice`);
      checkShape(input, spec);
      feeds[input.name] = new ort.Tensor(spec.ortType as 'float32', toOrtData(input.data, spec.ortType, `input ${input.name}`) as Float32Array, input.shape);
    }
    for (const spec of this.inputs) {
      if (!feeds[spec.name]) throw new ServerError(400, `missing input ${spec.name}`);
    }
    const wanted = outputNames.map((name) => {
      const spec = this.outputs.find((o) => o.name === name);
      if (!spec) throw new ServerError(400, `unknown output ${JSON.stringify(name)}; the model has ${this.outputs.map((o) => o.name).join(', ')}`);
      return spec;
    });
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds, wanted.map((w) => w.name));
    } catch (err) {
      // Inputs were checked against the model's declared shapes; what remains is a model
      // that rejects values it declared it accepts, which is the server's problem.
      throw new ServerError(500, `inference failed: ${(err as Error).message}`);
    }
    return wanted.map((spec) => {
      const t = results[spec.name];
      return { name: spec.name, datatype: spec.datatype, shape: t.dims.map(Number), data: fromOrtData(t.data, spec.ortType) };
    });
  }

  /** Frees the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

function checkShape(input: TensorIn, spec: TensorSpec): void {
  const what = `input ${input.name}`;
  if (!Array.isArray(input.shape) || !input.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ServerError(400, `${what}: shape must be an array of non-negative integers`);
  }
  if (elementCount(input.shape) !== input.data.length) {
    throw new ServerError(400, `${what}: shape [${input.shape}] needs ${elementCount(input.shape)} values, got ${input.data.length}`);
  }
  if (spec.shape.length === 0) return;
  const expected = `[${spec.shape.join(', ')}]`;
  if (input.shape.length !== spec.shape.length) throw new ServerError(400, `${what}: shape [${input.shape}] does not match the model's ${expected}`);
  spec.shape.forEach((d, i) => {
    if (d >= 0 && input.shape[i] !== d) throw new ServerError(400, `${what}: shape [${input.shape}] does not match the model's ${expected}`);
  });
}
