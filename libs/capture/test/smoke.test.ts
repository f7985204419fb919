import t from 'tap';
import * as framing from '../src/index.js';
t.type(framing, 'object');
